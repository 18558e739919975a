-- Service API keys: one row per issued key. Only the SHA-256 of the whole key is stored,
-- never the key itself; display_prefix (e.g. "sk_prod_ab12") is not secret.

-- Up Migration
CREATE TABLE service_api_keys (
  id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  key_name       text        NOT NULL CONSTRAINT service_api_keys_key_name_format CHECK (key_name ~ '^[a-z0-9-]{1,100}$'),
  environment    text        NOT NULL CONSTRAINT service_api_keys_environment_valid CHECK (environment IN ('dev', 'test', 'prod')),
  key_hash       bytea       NOT NULL CONSTRAINT service_api_keys_key_hash_sha256 CHECK (octet_length(key_hash) = 32),
  -- At most "sk_prod_" and four characters: a full key can never end up here by mistake.
  display_prefix text        NOT NULL CONSTRAINT service_api_keys_display_prefix_short CHECK (char_length(display_prefix) <= 16),
  -- How the key came to be: issued by hand, issued by a rotation, or synced from the
  -- deployment's SERVICE_API_KEYS secret (managed keys change only through that secret).
  origin         text        NOT NULL CONSTRAINT service_api_keys_origin_valid CHECK (origin IN ('created', 'rotated', 'managed')),
  rotated_from   uuid        REFERENCES service_api_keys (id),
  created_at     timestamptz NOT NULL DEFAULT now(),
  -- Set on the old key by a rotation (end of its grace period); null means no expiry.
  expires_at     timestamptz,
  revoked_at     timestamptz,
  last_used_at   timestamptz,
  CONSTRAINT service_api_keys_key_hash_unique UNIQUE (key_hash),
  -- A rotated key names the key it replaced.
  CONSTRAINT service_api_keys_rotated_has_source CHECK (origin <> 'rotated' OR rotated_from IS NOT NULL),
  -- Managed keys are never rotated, so never given an expiry: they end only by revocation.
  CONSTRAINT service_api_keys_managed_no_expiry CHECK (origin <> 'managed' OR expires_at IS NULL)
);

-- At most one current key (not revoked, no expiry) per name: creating a name that has one
-- is a conflict, even when two requests race; a rotated-out key in its grace period has an
-- expiry and so does not count.
CREATE UNIQUE INDEX service_api_keys_one_current_per_name
  ON service_api_keys (key_name)
  WHERE revoked_at IS NULL AND expires_at IS NULL;

-- Down Migration
DROP TABLE service_api_keys;
