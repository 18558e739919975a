/**
 * The smoke test's steps: what `npm run smoke` checks against a running chapi, in order.
 *
 * Each step is one request and a precise expectation; the first deviation stops the run
 * (later steps would only repeat the same failure). A task created along the way is deleted
 * again even when a later step fails, so a failed deploy leaves no smoke data behind.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SmokeOptions {
  /** e.g. `https://chapi.gamificator.click` (no trailing path). */
  baseUrl: string;
  /** A service key of the target environment (`sk_prod_…` in production). */
  apiKey: string;
  /**
   * The `version` `/health` must report (the deployed commit). Unset: any version.
   * After a deploy the load balancer may still answer from an old task for a moment, so
   * `/health` is polled until it matches or `versionWaitMs` passes.
   */
  expectVersion?: string;
  /** @default DEFAULT_VERSION_WAIT_MS */
  versionWaitMs?: number;
  /** Called with one line per finished step. */
  report: (line: string) => void;
}

export interface StepResult {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * How long one request may take. The API answers in milliseconds and `/health/ready` within
 * its own 2 s budget; 10 s leaves room for a cold TLS handshake across the internet.
 */
export const REQUEST_TIMEOUT_MS = 10_000;
/**
 * How long to wait for the deployed version to answer. `pulumi up` returns once ECS reports
 * the service steady; the ALB drains the old targets for up to its deregistration delay
 * (60 s at most, see infra), so 5 minutes is generous without hiding a stuck rollout.
 */
export const DEFAULT_VERSION_WAIT_MS = 300_000;
/** Pause between `/health` polls while waiting for the version. */
const VERSION_POLL_INTERVAL_MS = 5_000;

/** A failed expectation; its message is the line the operator reads. */
class Deviation extends Error {
  override name = 'Deviation';
}

interface Response {
  status: number;
  body: unknown;
  requestId: string | null;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function preview(body: unknown): string {
  const text = JSON.stringify(body) ?? String(body);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** The user id of one smoke run: unique, recognisable in logs and in the tasks table. */
export function throwawayUserId(now: Date = new Date()): string {
  return `smoke-${now.toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(4).toString('hex')}`;
}

/** Runs every step; resolves with their results (the run failed if any is not ok). */
export async function runSmoke(options: SmokeOptions): Promise<StepResult[]> {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const runId = randomBytes(4).toString('hex');
  const userId = throwawayUserId();
  const results: StepResult[] = [];
  let requestCount = 0;

  const request = async (method: string, path: string, init: { body?: Json; key?: string } = {}): Promise<Response> => {
    requestCount += 1;
    const headers: Record<string, string> = {
      // Lets an operator find each smoke request in the API's logs.
      'X-Request-Id': `smoke-${runId}-${requestCount}`,
      Accept: 'application/json',
    };
    if (init.key !== undefined) headers['X-API-Key'] = init.key;
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    let response: globalThis.Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method,
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        redirect: 'manual',
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
      throw new Deviation(`${method} ${path} got no response (${error instanceof Error ? error.message : String(error)}${cause})`);
    }
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON: kept as text, and the expectation below reports it.
    }
    return { status: response.status, body, requestId: response.headers.get('x-request-id') };
  };

  const expectStatus = (what: string, response: Response, status: number): void => {
    if (response.status !== status) {
      throw new Deviation(`${what}: expected HTTP ${status}, got ${response.status} ${preview(response.body)}`);
    }
  };

  /** The success envelope's `data`, or a deviation naming what was wrong. */
  const envelopeData = (what: string, response: Response): Json => {
    expectStatus(what, response, 200);
    const body = response.body;
    if (!isObject(body) || body.success !== true || body.error !== null || !isObject(body.data)) {
      throw new Deviation(`${what}: expected a success envelope with data, got ${preview(body)}`);
    }
    return body.data;
  };

  const step = async (name: string, check: () => Promise<string>): Promise<boolean> => {
    try {
      const detail = await check();
      results.push({ name, ok: true, detail });
      options.report(`ok    ${name}: ${detail}`);
      return true;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      results.push({ name, ok: false, detail });
      options.report(`FAIL  ${name}: ${detail}`);
      return false;
    }
  };

  const execute = (action: string, payload: Json, auth: 'with-key' | 'without-key' = 'with-key'): Promise<Response> =>
    request('POST', '/execute', {
      ...(auth === 'with-key' ? { key: options.apiKey } : {}),
      body: { action, user_id: userId, payload },
    });

  options.report(`smoke test of ${baseUrl} as throwaway user ${userId}`);

  const healthy = await step('GET /health', async () => {
    const deadline = Date.now() + (options.expectVersion === undefined ? 0 : (options.versionWaitMs ?? DEFAULT_VERSION_WAIT_MS));
    for (;;) {
      const response = await request('GET', '/health');
      expectStatus('GET /health', response, 200);
      const body = response.body;
      if (!isObject(body) || body.status !== 'ok' || typeof body.version !== 'string') {
        throw new Deviation(`expected {"status":"ok","version":…}, got ${preview(body)}`);
      }
      if (options.expectVersion === undefined || body.version === options.expectVersion) {
        return `status ok, version ${body.version}`;
      }
      if (Date.now() >= deadline) {
        throw new Deviation(`version is ${body.version}, expected ${options.expectVersion} (the deployed commit)`);
      }
      await sleep(VERSION_POLL_INTERVAL_MS);
    }
  });
  if (!healthy) return results;

  const ready = await step('GET /health/ready', async () => {
    const response = await request('GET', '/health/ready');
    expectStatus('GET /health/ready', response, 200);
    if (!isObject(response.body) || response.body.database !== 'connected') {
      throw new Deviation(`expected {"database":"connected"}, got ${preview(response.body)}`);
    }
    return 'database connected';
  });
  if (!ready) return results;

  const guarded = await step('POST /execute without a key is refused', async () => {
    const response = await execute('list-tasks', {}, 'without-key');
    expectStatus('POST /execute without X-API-Key', response, 401);
    return '401 unauthorized';
  });
  if (!guarded) return results;

  let taskId: string | undefined;
  const title = `chapi smoke test ${runId}`;
  try {
    const created = await step('create-task', async () => {
      const data = envelopeData('create-task', await execute('create-task', { title }));
      if (typeof data.id !== 'string' || data.user_id !== userId || data.title !== title || data.status !== 'pending') {
        throw new Deviation(`create-task: unexpected task ${preview(data)}`);
      }
      taskId = data.id;
      return `task ${data.id}`;
    });
    if (!created || taskId === undefined) return results;
    const id = taskId;

    const fetched = await step('get-task', async () => {
      const data = envelopeData('get-task', await execute('get-task', { task_id: id }));
      if (data.id !== id || data.title !== title || data.user_id !== userId) {
        throw new Deviation(`get-task: expected the task just created, got ${preview(data)}`);
      }
      return `task ${id} read back`;
    });
    if (!fetched) return results;

    const deleted = await step('delete-task', async () => {
      const data = envelopeData('delete-task', await execute('delete-task', { task_id: id }));
      if (data.deleted_id !== id) throw new Deviation(`delete-task: expected deleted_id ${id}, got ${preview(data)}`);
      taskId = undefined;
      return `task ${id} deleted`;
    });
    if (!deleted) return results;

    await step('get-task after delete is 404', async () => {
      const response = await execute('get-task', { task_id: id });
      expectStatus('get-task after delete', response, 404);
      return '404 not_found';
    });
  } finally {
    if (taskId !== undefined) {
      // A later step failed: remove the task anyway, and say whether that worked.
      const leftover = taskId;
      await step('cleanup: delete the smoke task', async () => {
        envelopeData('delete-task', await execute('delete-task', { task_id: leftover }));
        return `task ${leftover} deleted`;
      });
    }
  }
  return results;
}
