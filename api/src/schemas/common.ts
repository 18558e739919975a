/**
 * Building blocks shared by the request and response schemas. These JSON Schemas (2020-12,
 * the dialect of OpenAPI 3.1) are the single source for both request validation (ajv,
 * `validate.ts`) and the OpenAPI document (`openapi.ts`).
 *
 * Input schemas are built with TypeBox, so each carries its TypeScript type (`Static<typeof
 * Schema>`): what a validator lets through is typed by the schema that checked it, never by a
 * cast. Leaves are written as plain JSON Schema (`Type.Unsafe`), so the document and ajv's
 * messages stay exactly as written (TypeBox's own unions would become `anyOf`s).
 */
import { Type, type TUnsafe } from '@sinclair/typebox';

/** A JSON Schema object; kept loose so schemas can be composed with plain spreads. */
export type JsonSchema = Record<string, unknown>;

/**
 * Text PostgreSQL can store faithfully: no NUL character (PostgreSQL refuses it) and no lone
 * UTF-16 surrogate (it would be stored as U+FFFD, silently altered). Written with escapes so
 * the pattern reads the same in the OpenAPI document; ajv compiles it with the `u` flag, under
 * which a surrogate pair is one code point and only a lone surrogate falls in D800–DFFF.
 */
export const SAFE_TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$';

/** A canonical UUID (ajv-formats' `uuid` also accepts a `urn:uuid:` prefix PostgreSQL does not). */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** Friendly messages for the patterns above, used in 422 details instead of the raw regex. */
export const PATTERN_MESSAGES: Record<string, string> = {
  [SAFE_TEXT_PATTERN]: 'must not contain NUL characters or unpaired UTF-16 surrogates',
  [UUID_PATTERN]: 'must be a UUID',
};

/** Text of `minLength..maxLength` Unicode code points that PostgreSQL stores as sent. */
export function safeText(minLength: number, maxLength: number, extra: JsonSchema = {}): TUnsafe<string> {
  return Type.Unsafe<string>({ type: 'string', minLength, maxLength, pattern: SAFE_TEXT_PATTERN, ...extra });
}

/** One of `values`, typed as their union. */
export function stringEnum<const V extends readonly string[]>(values: V, extra: JsonSchema = {}): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...extra });
}

/** `user_id`: 1..255 code points of storable text. */
export const UserIdSchema = safeText(1, 255, {
  description: "The end user's id in the calling service: opaque, compared exactly (no trimming, no case folding).",
  examples: ['user-42'],
});

/** A UUID, canonical form only. */
export const UuidSchema = Type.Unsafe<string>({
  type: 'string',
  format: 'uuid',
  pattern: UUID_PATTERN,
  examples: ['0b7e8f5c-3d6a-4d1e-9b8a-2f4c6e8a0b1d'],
});

/** An RFC 3339 date-time with an offset; see `date-time.ts` for exactly what is accepted. */
export const DateTimeSchema = Type.Unsafe<string>({
  type: 'string',
  format: 'date-time',
  // Far more than any RFC 3339 value needs; bounds the work a hostile string can cause.
  maxLength: 64,
  examples: ['2026-01-01T10:00:00.000Z'],
});

/** A date-time the API writes: UTC, ISO 8601, milliseconds. */
export const OutputDateTimeSchema = Type.Unsafe<string>({
  type: 'string',
  format: 'date-time',
  examples: ['2026-01-01T10:00:00.000Z'],
});

/** `schema` or null. */
export function nullable<T>(schema: TUnsafe<T>): TUnsafe<T | null> {
  const { type, enum: values, examples: _examples, ...rest } = schema as JsonSchema;
  return Type.Unsafe<T | null>({
    ...rest,
    type: [type, 'null'],
    ...(Array.isArray(values) ? { enum: [...(values as unknown[]), null] } : {}),
  });
}

/** An object with exactly these properties (unknown ones are a 422). */
export function strictObject(properties: Record<string, JsonSchema>, required: string[] = [], extra: JsonSchema = {}): JsonSchema {
  return { type: 'object', properties, required, additionalProperties: false, ...extra };
}
