#!/usr/bin/env bash
# The deploy's smoke test with the stack's own key (deploy.yml, after `pulumi up`):
#   SMOKE_KEY_SECRET_ARN=<secret ARN> SMOKE_KEY_JSON_KEY=smoke scripts/deploy-smoke.sh --base-url <url>
# Reads the key from Secrets Manager with the job's AWS credentials (the stack outputs
# smokeKeySecretArn and smokeKeyJsonKey say where it is), masks it in the GitHub Actions log
# before anything could print it, and runs `npm run smoke` with it in SMOKE_API_KEY only.
set -euo pipefail

: "${SMOKE_KEY_SECRET_ARN:?the stack output smokeKeySecretArn is required}"
: "${SMOKE_KEY_JSON_KEY:?the stack output smokeKeyJsonKey is required}"

secret="$(aws secretsmanager get-secret-value --secret-id "$SMOKE_KEY_SECRET_ARN" --query SecretString --output text)"
key="$(jq -r --arg name "$SMOKE_KEY_JSON_KEY" '.[$name] // empty' <<<"$secret")"
unset secret
if [ -z "$key" ]; then
  echo "::error title=No smoke test key::the secret has no \"$SMOKE_KEY_JSON_KEY\" key: add it to chapi:serviceClients and deploy"
  exit 1
fi
# https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#masking-a-value-in-a-log
echo "::add-mask::$key"
SMOKE_API_KEY="$key" exec npm run --silent smoke -- "$@"
