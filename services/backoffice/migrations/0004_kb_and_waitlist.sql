-- Help articles: drafts until published; a slug is unique within its locale.
CREATE TABLE kb_articles (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug text NOT NULL,
    locale text NOT NULL,
    title text NOT NULL,
    body text NOT NULL,
    status text NOT NULL CHECK (status IN ('draft', 'published')),
    published_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (locale, slug)
);
CREATE INDEX kb_articles_published ON kb_articles (status, id);

-- Article images, checked by content (PNG, JPEG, WebP) and size-capped; public by their random key.
CREATE TABLE kb_images (
    key text PRIMARY KEY,
    content_type text NOT NULL,
    data bytea NOT NULL,
    size integer NOT NULL,
    uploaded_by_staff_id bigint NOT NULL,
    created_at timestamptz NOT NULL
);

-- The public waitlist: one entry per email (compared case-insensitively).
CREATE TABLE waitlist (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    locale text,
    referrer text,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX waitlist_email ON waitlist (lower(email));

-- Sign-up attempts per client address, for the per-address limit (pruned as they age out).
CREATE TABLE waitlist_attempts (
    address text NOT NULL,
    attempted_at timestamptz NOT NULL
);
CREATE INDEX waitlist_attempts_address ON waitlist_attempts (address, attempted_at);
