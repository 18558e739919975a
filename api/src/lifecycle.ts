/**
 * The process's serving state, shared by the readiness probe and the shutdown sequence:
 * once draining starts, `/health/ready` answers 503 so nothing new is routed here.
 */
export interface Lifecycle {
  readonly startedAt: number;
  draining: boolean;
}

export function createLifecycle(startedAt: number = Date.now()): Lifecycle {
  return { startedAt, draining: false };
}
