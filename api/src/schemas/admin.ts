/**
 * The `/admin` routes' inputs and outputs (docs/api.md, "Service keys: administration"). Field
 * names follow the earlier service's clients. Input types are derived from their schemas.
 */
import { Type } from '@sinclair/typebox';
import { KEY_ENVIRONMENTS } from '../keys/format.js';
import { KEY_NAME_PATTERN, MAX_ROTATION_GRACE_MS } from '../keys/service.js';
import { OutputDateTimeSchema, strictObject, stringEnum, UuidSchema } from './common.js';

/** 1..100 characters of `[a-z0-9-]`: the pattern the CLI and the service check (the table's CHECK agrees). */
export const KeyNameSchema = Type.Unsafe<string>({
  type: 'string',
  pattern: KEY_NAME_PATTERN.source,
  description: 'The key name: 1..100 characters of a-z, 0-9 and -.',
  examples: ['cat-house-prod'],
});
const EnvironmentSchema = stringEnum(KEY_ENVIRONMENTS);
const KEY_STATUSES = ['active', 'grace', 'revoked', 'expired'];

/** Longest grace period a rotation may give the old key: the key lifecycle's own cap. */
export const MAX_GRACE_SECONDS = MAX_ROTATION_GRACE_MS / 1000;

/** `POST /admin/service-keys` body. */
export const CreateKeyBodySchema = Type.Object(
  { key_name: KeyNameSchema, environment: EnvironmentSchema },
  { additionalProperties: false, examples: [{ key_name: 'cat-house-prod', environment: 'prod' }] },
);
/** `POST /admin/rotate-key` body. */
export const RotateKeyBodySchema = Type.Object(
  {
    key_name: KeyNameSchema,
    grace_seconds: Type.Optional(
      Type.Unsafe<number>({
        type: 'integer',
        minimum: 0,
        maximum: MAX_GRACE_SECONDS,
        description: 'How long the old key keeps working, at most 30 days. Default 7 days.',
      }),
    ),
  },
  { additionalProperties: false, examples: [{ key_name: 'cat-house-prod' }] },
);
/** `POST /admin/service-keys/{key_name}/revoke` path. */
export const KeyNamePathSchema = Type.Object({ key_name: KeyNameSchema }, { additionalProperties: false });

/** The data of a key issued by `POST /admin/service-keys`. */
export const CreatedKeySchema = strictObject(
  {
    id: UuidSchema,
    key_name: { type: 'string' },
    service_key: { type: 'string', description: 'The new key. Shown this once; only its hash is stored.' },
    created_at: OutputDateTimeSchema,
  },
  ['id', 'key_name', 'service_key', 'created_at'],
  {
    examples: [
      {
        id: '5d0c7b1e-8a44-4f0e-b7a5-0f6f3c1d2e9a',
        key_name: 'cat-house-prod',
        service_key: 'sk_prod_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
        created_at: '2026-01-01T10:00:00.000Z',
      },
    ],
  },
);
/** The data of `POST /admin/rotate-key`. */
export const RotatedKeySchema = strictObject(
  {
    new_key: { type: 'string', description: 'The new key. Shown this once.' },
    old_key_expires_at: { ...OutputDateTimeSchema, description: 'The old key works until then.' },
  },
  ['new_key', 'old_key_expires_at'],
  {
    examples: [
      {
        new_key: 'sk_prod_fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210',
        old_key_expires_at: '2026-01-08T10:00:00.000Z',
      },
    ],
  },
);
/** The data of `GET /admin/service-keys`: no secret, no hash. */
export const KeyListSchema = strictObject(
  {
    keys: {
      type: 'array',
      items: strictObject(
        {
          key_name: { type: 'string' },
          environment: EnvironmentSchema,
          display_prefix: { type: 'string', description: 'The start of the key, e.g. sk_prod_ab12: not secret.' },
          status: { type: 'string', enum: KEY_STATUSES },
          managed: { type: 'boolean', description: 'Synced from the deployment: change its secret, not this key.' },
          created_at: OutputDateTimeSchema,
          expires_at: { type: ['string', 'null'], format: 'date-time' },
          last_used_at: { type: ['string', 'null'], format: 'date-time' },
        },
        ['key_name', 'environment', 'display_prefix', 'status', 'managed', 'created_at', 'expires_at', 'last_used_at'],
      ),
    },
  },
  ['keys'],
  {
    examples: [
      {
        keys: [
          {
            key_name: 'cat-house-prod',
            environment: 'prod',
            display_prefix: 'sk_prod_fedc',
            status: 'active',
            managed: false,
            created_at: '2026-01-01T10:00:00.000Z',
            expires_at: null,
            last_used_at: '2026-01-01T11:59:00.000Z',
          },
          {
            key_name: 'cat-house-prod',
            environment: 'prod',
            display_prefix: 'sk_prod_0123',
            status: 'grace',
            managed: false,
            created_at: '2025-12-01T10:00:00.000Z',
            expires_at: '2026-01-08T10:00:00.000Z',
            last_used_at: '2026-01-01T10:00:00.000Z',
          },
        ],
      },
    ],
  },
);
/** The data of a revoke. */
export const RevokedKeySchema = strictObject(
  { key_name: { type: 'string' }, revoked: { type: 'integer', minimum: 1, description: 'How many keys were stopped.' } },
  ['key_name', 'revoked'],
  { examples: [{ key_name: 'cat-house-prod', revoked: 2 }] },
);
