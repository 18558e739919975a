/**
 * Request validation: ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) in strict mode,
 * every validator compiled once, and ajv's errors turned into the contract's 422: `details`
 * name each failing field by a JSON pointer into what was sent.
 *
 * Compiling every schema costs ~0.2 s of CPU (code generation, then the garbage it leaves),
 * which on 0.25 vCPU is most of the start-up. So modules declare validators when they load,
 * and the server compiles them right after it starts listening (`warmUpValidators`),
 * in the background, one schema at a time, so the first health check is answered at once; a
 * validator used before its turn compiles itself on its first call.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { ApiError, type ErrorDetail } from '../errors.js';
import { PATTERN_MESSAGES, type JsonSchema } from './common.js';
import { isDateTime } from './date-time.js';
import { UPDATE_FIELDS } from './tasks.js';

/** A 422 lists at most this many fields: a body with 10 000 unknown keys gets a short answer. */
export const MAX_ERROR_DETAILS = 20;

const ajv = new Ajv2020({
  strict: true,
  // Report every failing field, not only the first (the contract's `details`).
  allErrors: true,
  // `["string", "null"]`: OpenAPI 3.1 spells nullable fields this way.
  allowUnionTypes: true,
});
addFormats.default(ajv, ['uuid']);
ajv.addFormat('date-time', { type: 'string', validate: isDateTime });

/** Validators declared but not yet compiled. */
const uncompiled = new Set<() => void>();

/** A validator that compiles `schema` when first called, or when `compileValidators` runs. */
function deferred<T>(compile: () => ValidateFunction<T>): ValidateFunction<T> {
  let compiled: ValidateFunction<T> | undefined;
  const ensure = (): ValidateFunction<T> => {
    uncompiled.delete(ensure);
    return (compiled ??= compile());
  };
  uncompiled.add(ensure);
  const validate = ((data: unknown) => {
    const inner = ensure();
    const valid = inner(data);
    validate.errors = inner.errors;
    return valid;
  }) as ValidateFunction<T>;
  return validate;
}

/**
 * Compiles every declared validator not compiled yet; returns how many it compiled. A schema
 * that ajv's strict mode refuses throws here, or in `warmUpValidators`, whichever compiles it
 * first (a server's `validatorsReady` carries that rejection).
 */
export function compileValidators(): number {
  const pending = [...uncompiled];
  for (const compile of pending) compile();
  return pending.length;
}

/**
 * Compiles the declared validators in the background, one per turn of the event loop, so that
 * requests arriving meanwhile (the first health check) wait for one compilation at most, never
 * for all of them. Resolves with how many it compiled; rejects on a schema ajv refuses.
 */
export async function warmUpValidators(): Promise<number> {
  let count = 0;
  for (const compile of [...uncompiled]) {
    await new Promise((resolve) => setImmediate(resolve));
    if (!uncompiled.has(compile)) continue;
    compile();
    count++;
  }
  return count;
}

/** A validator for JSON bodies (and path parameters, which are strings anyway). */
export function compileBody<T>(schema: JsonSchema): ValidateFunction<T> {
  return deferred(() => ajv.compile<T>(schema));
}

/** A validator for a typed schema: what it lets through has the schema's type. */
export function compileInput<S extends TSchema>(schema: S): ValidateFunction<Static<S>> {
  return compileBody<Static<S>>(schema);
}

/**
 * A whole number written plainly. ajv's own coercion would also take `1e3`, `0x10` and ` 10`
 * for 1000, 16 and 10; a query parameter means what it says or it is a 422.
 */
const DECIMAL = /^(?:0|[1-9]\d{0,15})$/;

/**
 * A validator for a query string, where every value arrives as text: the `integer`
 * parameters (`limit`) are read as numbers when written as plain decimals, then validated.
 * Anything else stays text, and fails as such.
 */
export function compileQuery<S extends TSchema>(schema: S): ValidateFunction<Static<S>> {
  type T = Static<S>;
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const integers = Object.keys(properties).filter((name) => properties[name]?.type === 'integer');
  const validate = compileBody<T>(schema);
  const withNumbers = ((data: unknown) => {
    const query = data as Record<string, unknown>;
    for (const name of integers) {
      const value = query[name];
      if (typeof value === 'string' && DECIMAL.test(value)) query[name] = Number(value);
    }
    const valid = validate(data);
    withNumbers.errors = validate.errors;
    return valid;
  }) as ValidateFunction<T>;
  return withNumbers;
}

/** RFC 6901: `~` and `/` inside a property name. */
function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

function unescapePointerToken(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

const FORMAT_MESSAGES: Record<string, string> = {
  uuid: 'must be a UUID',
  'date-time': 'must be an RFC 3339 date-time with an offset, e.g. 2026-01-01T10:00:00Z',
};

function toDetail(error: ErrorObject, prefix: string): ErrorDetail {
  const path = prefix + error.instancePath;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path: `${path}/${escapePointerToken(String(params.missingProperty))}`, message: 'is required' };
    case 'additionalProperties':
      return { path: `${path}/${escapePointerToken(String(params.additionalProperty))}`, message: 'is not an allowed field' };
    case 'pattern':
      return { path, message: PATTERN_MESSAGES[String(params.pattern)] ?? `must match the pattern ${String(params.pattern)}` };
    case 'format':
      return { path, message: FORMAT_MESSAGES[String(params.format)] ?? error.message ?? 'is invalid' };
    case 'enum':
      return { path, message: `must be one of: ${(params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(', ')}` };
    case 'minProperties':
      // Only the update schemas set minProperties: an update must change something.
      return { path, message: `must set at least one of: ${UPDATE_FIELDS.join(', ')}` };
    default:
      return { path, message: error.message ?? 'is invalid' };
  }
}

/** `/payload/title` → `payload.title` (the contract's message style); the root is `body`. */
function dotted(pointer: string): string {
  if (pointer === '') return 'body';
  return pointer.slice(1).split('/').map(unescapePointerToken).join('.');
}

/** The details of a failed validation, pointers prefixed (e.g. `/query`), duplicates merged. */
export function errorDetails(errors: readonly ErrorObject[], prefix = ''): ErrorDetail[] {
  const seen = new Set<string>();
  const details: ErrorDetail[] = [];
  for (const error of errors) {
    const detail = toDetail(error, prefix);
    const key = `${detail.path}\u0000${detail.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    details.push(detail);
  }
  return details;
}

/**
 * The contract's `validation_failed` for these details (a 422 unless `status` says otherwise);
 * the message names the first failing field.
 */
export function validationFailed(details: ErrorDetail[], status?: number): ApiError {
  const shown = details.slice(0, MAX_ERROR_DETAILS);
  const first = shown[0] ?? { path: '', message: 'is invalid' };
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
  return new ApiError('validation_failed', `${dotted(first.path)}: ${first.message}${more}`, {
    details: shown,
    ...(status === undefined ? {} : { status }),
  });
}

/** The failures of `validate` on `data` (empty when it passes), pointers under `prefix`. */
export function check(validate: ValidateFunction, data: unknown, prefix = ''): ErrorDetail[] {
  return validate(data) ? [] : errorDetails(validate.errors ?? [], prefix);
}

/**
 * `data` as the validator's type when it passes; otherwise undefined, with its failures added
 * to `details` (pointers under `prefix`). The type comes from the validator, never a cast.
 */
export function validated<T>(validate: ValidateFunction<T>, data: unknown, details: ErrorDetail[], prefix = ''): T | undefined {
  if (validate(data)) return data;
  details.push(...errorDetails(validate.errors ?? [], prefix));
  return undefined;
}
