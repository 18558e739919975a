/**
 * `--grace` durations as people write them: `7d`, `12h`, `30m`, `90s`, `0` (no grace: the old
 * key stops at once). Parsed by `ms`; the rules on top are the project's: a unit is required
 * (a bare `7` could mean days or milliseconds), no negatives, at most `MAX_ROTATION_GRACE_MS`.
 */
import ms from 'ms';
import { MAX_ROTATION_GRACE_MS } from '../keys/service.js';

/** The grace period in milliseconds, or a message saying what is accepted. */
export function parseGrace(text: string): { ms: number } | { error: string } {
  const trimmed = text.trim();
  const accepted = `a duration like 7d, 12h, 30m or 0, at most ${ms(MAX_ROTATION_GRACE_MS, { long: true })}`;
  if (trimmed === '0') return { ms: 0 };
  if (!/^\d+(\.\d+)?\s*[a-z]+$/i.test(trimmed)) return { error: `--grace "${text}" is not ${accepted}` };
  // ms's types only admit strings that look like durations; the pattern above checked the shape.
  const value = ms(trimmed as ms.StringValue) as number | undefined;
  if (value === undefined || !Number.isFinite(value)) return { error: `--grace "${text}" is not ${accepted}` };
  const rounded = Math.round(value);
  if (rounded > MAX_ROTATION_GRACE_MS) return { error: `--grace "${text}" is too long: ${accepted}` };
  return { ms: rounded };
}

/** A grace period as people read it: `7 days`, `12 hours`, `0 ms`. */
export function formatGrace(graceMs: number): string {
  return graceMs === 0 ? 'none' : ms(graceMs, { long: true });
}
