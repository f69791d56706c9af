-- The inbox catalogue's own tables: custom-field definitions and values, saved replies. Labels,
-- sectors and contacts are inbox core's (0001); only unique names are added to them here.

-- Names are unique per workspace regardless of case, so two owners racing to create the same
-- label get one row and a 409 (a unique key, not check-then-insert).
CREATE UNIQUE INDEX labels_tenant_name ON labels (tenant_id, lower(name));
CREATE UNIQUE INDEX sectors_tenant_name ON sectors (tenant_id, lower(name));

CREATE TABLE custom_field_definitions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    name text NOT NULL,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE UNIQUE INDEX custom_field_definitions_tenant_name
    ON custom_field_definitions (tenant_id, lower(name));
CREATE INDEX custom_field_definitions_tenant ON custom_field_definitions (tenant_id, position, id);

-- A value row exists only while the field has a value; it goes with its contact and with its
-- definition (the database's cascade, so no value outlives either).
CREATE TABLE custom_field_values (
    tenant_id bigint NOT NULL,
    contact_id bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    definition_id bigint NOT NULL REFERENCES custom_field_definitions (id) ON DELETE CASCADE,
    value text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (contact_id, definition_id)
);

CREATE INDEX custom_field_values_definition ON custom_field_values (definition_id);

CREATE TABLE saved_replies (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint NOT NULL,
    label text NOT NULL,
    body text NOT NULL,
    position integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE INDEX saved_replies_tenant ON saved_replies (tenant_id, position, id);
