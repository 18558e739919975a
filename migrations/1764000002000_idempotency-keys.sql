-- Idempotent creates: the first successful response to an Idempotency-Key, per service key
-- (its id: a rotated key is a new scope) and transport, kept for 24 hours. Expired rows are
-- deleted by the API itself as it writes new ones (no cron job exists to do it).

-- Up Migration
CREATE TABLE idempotency_keys (
  service_key_id  uuid        NOT NULL REFERENCES service_api_keys (id) ON DELETE CASCADE,
  transport       text        NOT NULL CONSTRAINT idempotency_keys_transport_valid CHECK (transport IN ('execute', 'v1')),
  idempotency_key text        NOT NULL CONSTRAINT idempotency_keys_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  user_id         text        NOT NULL,
  -- SHA-256 of the request body as canonical JSON: the same body parsed, not the same bytes.
  request_hash    bytea       NOT NULL,
  response_status smallint    NOT NULL,
  response_data   jsonb       NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (service_key_id, transport, idempotency_key)
);

CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- Down Migration
DROP TABLE idempotency_keys;
