-- Keys imported from the earlier Python service (npm run import) keep whatever shape they had
-- there; their origin says where they came from, so a list shows which keys predate chapi.
-- Expand only: a new allowed value; no existing row changes.

-- Up Migration
ALTER TABLE service_api_keys DROP CONSTRAINT service_api_keys_origin_valid;
ALTER TABLE service_api_keys ADD CONSTRAINT service_api_keys_origin_valid
  CHECK (origin IN ('created', 'rotated', 'managed', 'imported'));

-- Down Migration
-- Refuses (the CHECK fails) while imported keys exist: revoke and delete them first.
ALTER TABLE service_api_keys DROP CONSTRAINT service_api_keys_origin_valid;
ALTER TABLE service_api_keys ADD CONSTRAINT service_api_keys_origin_valid
  CHECK (origin IN ('created', 'rotated', 'managed'));
