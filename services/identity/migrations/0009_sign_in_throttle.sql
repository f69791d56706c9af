-- The sign-in throttle keeps counters, claimed atomically before any password work (one upsert
-- each), instead of a failure log read in one transaction and written in another.

-- Strict: attempts per (email, client address) within a fixed window.
CREATE TABLE sign_in_attempts_by_address (
    kind text NOT NULL,                -- 'user' | 'staff'
    email text NOT NULL,               -- lower-cased
    address text NOT NULL,             -- the client address the gateway resolved; '' if none
    attempts integer NOT NULL,
    window_started_at timestamptz NOT NULL,
    succeeded_at timestamptz,          -- last success from here: a known address for this email
    PRIMARY KEY (kind, email, address)
);

-- Loose: attempts per email from every address, with a growing delay past a free allowance.
CREATE TABLE sign_in_attempts_by_email (
    kind text NOT NULL,
    email text NOT NULL,
    attempts integer NOT NULL,
    last_attempt_at timestamptz NOT NULL,
    next_allowed_at timestamptz NOT NULL,
    PRIMARY KEY (kind, email)
);
