/**
 * Headers every response carries, errors included:
 *
 * - `Cache-Control: no-store`: task data and keys are per caller and change; no shared or
 *   browser cache may keep a copy (a key is shown once, in a 201).
 * - `X-Content-Type-Options: nosniff`: a browser takes the declared type (JSON stays data, never
 *   script or HTML), whatever a task's text looks like.
 * - `Strict-Transport-Security`: the API is only served over HTTPS (the ALB redirects port 80);
 *   browsers that ever reach it keep to HTTPS for a year. Set here rather than at the ALB: the
 *   app answers every response (errors, 404s, Node's own 400/408/431 in `client-errors.ts`),
 *   and one place keeps the three together and tested. Browsers ignore it over plain HTTP
 *   (RFC 6797 §8.1), so local runs are unaffected.
 *
 * Set before anything else runs, so no response path can miss them; a route may relax
 * `Cache-Control` for public static files (the Swagger UI assets of `/docs`).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
};

/** The same, as [name, value] pairs (set one by one on the response, the cheapest way). */
export const SECURITY_HEADER_ENTRIES: readonly (readonly [string, string])[] = Object.entries(SECURITY_HEADERS);
