/**
 * How a key action's audit entry becomes a log line: one JSON line per action (pino), the same
 * shape from the keys CLI, the migration task's managed-key sync and the admin routes, so one
 * CloudWatch Logs Insights query finds them all: `filter event = "service_key_audit"`.
 */
import type { Logger } from '../logger.js';
import type { AuditEntry } from './service.js';

/** The `event` field of every audit line. */
export const AUDIT_EVENT = 'service_key_audit';

/**
 * An `audit` function for `KeyServiceDeps` that writes each entry as one info line:
 * `{ event, action, key_name, actor, detail }`. Entries never hold a key or a hash, and the
 * logger's redaction stays in force besides.
 */
export function auditToLogger(logger: Pick<Logger, 'info'>): (entry: AuditEntry) => void {
  return (entry) => {
    logger.info(
      {
        event: AUDIT_EVENT,
        action: entry.action,
        key_name: entry.key_name,
        actor: entry.actor,
        ...(entry.detail === undefined ? {} : { detail: entry.detail }),
      },
      `service key ${entry.action}: ${entry.key_name}`,
    );
  };
}
