-- Workspace currency and logo (the file lives in the storage volume under a random key).
ALTER TABLE tenants ADD COLUMN currency char(3) NOT NULL DEFAULT 'USD';
ALTER TABLE tenants ADD COLUMN logo_key text UNIQUE;
