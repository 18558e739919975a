/**
 * RFC 3339 date-times, as the contract accepts them: a date, a time and an offset (`Z` or
 * `±hh:mm`, any offset), nothing looser. A date-time without an offset, a date alone or an
 * impossible date (`2030-02-30`) is refused. The instant must lie in years 0001..9999 once
 * moved to UTC, so that PostgreSQL stores it and the API prints it back as ISO 8601.
 */
import { fullFormats } from 'ajv-formats/dist/formats.js';

const ajvFormatsDateTime = (fullFormats['date-time'] as { validate: (value: string) => boolean }).validate;

/**
 * `T` or `t` or a space between date and time (RFC 3339 §5.6 allows the space); seconds may
 * carry a fraction of any length; the offset is `Z`/`z` or `±hh:mm`.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MIN_INSTANT = new Date('0001-01-01T00:00:00.000Z').getTime();
const MAX_INSTANT = new Date('9999-12-31T23:59:59.999Z').getTime();

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** The instant a valid RFC 3339 date-time names, in ms since the epoch; undefined if invalid. */
export function parseDateTime(value: string): number | undefined {
  const match = RFC3339.exec(value);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = match[7] ?? '';
  if (month < 1 || month > 12) return undefined;
  const daysInMonth = month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number);
  if (day < 1 || day > daysInMonth) return undefined;
  // Second 60 is a leap second (ajv-formats checks it falls on 23:59 UTC); it is read as the
  // next second, as PostgreSQL reads it, since no clock here can represent it.
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  let offsetMinutes = 0;
  if (match[8] === undefined) {
    const offsetHours = Number(match[10]);
    const offsetMins = Number(match[11]);
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (match[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0..99 to 1900..1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, 0, 0);
  // Milliseconds are kept; finer digits are dropped (the API shows milliseconds).
  const milliseconds = Number(fraction.slice(0, 3).padEnd(3, '0'));
  const instant = date.getTime() + second * 1000 + milliseconds - offsetMinutes * 60_000;
  if (instant < MIN_INSTANT || instant > MAX_INSTANT) return undefined;
  return instant;
}

/**
 * ajv's `format: date-time` (registered in `validate.ts`): ajv-formats' RFC 3339 check (the
 * calendar, leap seconds) and the stricter shape and range above, which ajv-formats leaves
 * open (it also takes `+0200`, `+02`, any whitespace as separator, and year 0000).
 */
export function isDateTime(value: string): boolean {
  return ajvFormatsDateTime(value) && parseDateTime(value) !== undefined;
}

/** The Date an already-validated date-time names. */
export function toDate(value: string): Date {
  const instant = parseDateTime(value);
  if (instant === undefined) throw new TypeError('toDate needs a validated RFC 3339 date-time');
  return new Date(instant);
}

/** A date-time without an offset: `2026-01-15T10:30`, seconds and a fraction optional. */
const NAIVE_DATE_TIME = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?$/;
/** A date alone: `2026-01-15`. */
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * What `/execute` accepts for a date-time besides RFC 3339, as the earlier service (Pydantic)
 * did, written as the RFC 3339 text it means: a date-time without an offset is UTC, a date
 * alone is midnight UTC, a JSON number is Unix seconds. Anything else comes back unchanged,
 * for the strict check to judge, so an impossible date (`2030-02-30`) is still refused.
 */
export function lenientDateTime(value: unknown): unknown {
  if (typeof value === 'number') {
    const instant = value * 1000;
    // Outside what an ISO string can hold: left as a number, which the check refuses.
    if (!Number.isFinite(instant) || Math.abs(instant) > 8.64e15) return value;
    return new Date(instant).toISOString();
  }
  if (typeof value !== 'string') return value;
  if (DATE_ONLY.test(value)) return `${value}T00:00:00Z`;
  const naive = NAIVE_DATE_TIME.exec(value);
  if (naive !== null) return `${naive[1]}T${naive[2]}${naive[3] ?? ':00'}Z`;
  return value;
}
