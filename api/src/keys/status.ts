/**
 * A key's state at a moment, derived from its timestamps (never stored, so it cannot go
 * stale): what authentication accepts and what the admin list shows.
 */
import type { ServiceKeyRow } from './sql.js';

/** What the admin list shows: `grace` is a rotated-out key that still works until `expires_at`. */
export type KeyStatus = 'active' | 'grace' | 'revoked' | 'expired';

/** The key's status at `now` (milliseconds since the epoch). */
export function keyStatus(key: Pick<ServiceKeyRow, 'revoked_at' | 'expires_at'>, now: number): KeyStatus {
  if (key.revoked_at !== null && key.revoked_at.getTime() <= now) return 'revoked';
  if (key.expires_at === null) return 'active';
  // A rotated-out key keeps working until the end of its grace period.
  return key.expires_at.getTime() > now ? 'grace' : 'expired';
}

/** Whether a key authenticates at `now`: active, or rotated out but still in its grace period. */
export function isKeyUsable(key: Pick<ServiceKeyRow, 'revoked_at' | 'expires_at'>, now: number): boolean {
  const status = keyStatus(key, now);
  return status === 'active' || status === 'grace';
}
