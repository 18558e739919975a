/**
 * `npm run smoke`: checks a running chapi end to end — `/health`, `/health/ready`, that
 * `/execute` refuses a missing key, then create → get → delete of a task for a throwaway user.
 * One line per step; exit 0 only when every step passed, 1 on any deviation, 2 on bad usage.
 *
 *   SMOKE_API_KEY=sk_prod_… npm run smoke -- --base-url https://chapi.gamificator.click \
 *     [--expect-version <git sha>] [--wait-seconds 300]
 *
 * The key comes only from the environment (`SMOKE_API_KEY`), never from a flag, so it stays
 * out of process lists and CI logs. `SMOKE_BASE_URL` and `SMOKE_EXPECT_VERSION` may stand in
 * for the flags. Under GitHub Actions a failure is also raised as an error annotation.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_VERSION_WAIT_MS, runSmoke } from './lib/smoke.js';

const USAGE =
  'usage: SMOKE_API_KEY=<key> npm run smoke -- --base-url <url> [--expect-version <sha>] [--wait-seconds <n>]';

function usageError(message: string): never {
  console.error(`smoke: ${message}\n${USAGE}`);
  process.exit(2);
}

function options(): { baseUrl: string; apiKey: string; expectVersion?: string; versionWaitMs: number } {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'base-url': { type: 'string' },
        'expect-version': { type: 'string' },
        'wait-seconds': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usageError(error instanceof Error ? error.message : String(error));
  }
  const baseUrl = values['base-url'] ?? process.env.SMOKE_BASE_URL ?? '';
  if (baseUrl === '') usageError('--base-url (or SMOKE_BASE_URL) is required');
  try {
    const parsed = new URL(baseUrl);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    usageError(`--base-url must be an http(s) URL (got "${baseUrl}")`);
  }
  const apiKey = process.env.SMOKE_API_KEY ?? '';
  if (apiKey === '') usageError('SMOKE_API_KEY is not set (a service key of the target environment)');
  const expectVersion = values['expect-version'] ?? process.env.SMOKE_EXPECT_VERSION;
  const waitRaw = values['wait-seconds'];
  let versionWaitMs = DEFAULT_VERSION_WAIT_MS;
  if (waitRaw !== undefined) {
    if (!/^\d+$/.test(waitRaw)) usageError(`--wait-seconds must be a whole number (got "${waitRaw}")`);
    versionWaitMs = Number(waitRaw) * 1000;
  }
  return {
    baseUrl,
    apiKey,
    ...(expectVersion === undefined || expectVersion === '' ? {} : { expectVersion }),
    versionWaitMs,
  };
}

const results = await runSmoke({ ...options(), report: (line) => console.log(line) });
const failed = results.filter((result) => !result.ok);
if (failed.length === 0) {
  console.log(`smoke test passed: ${results.length} steps`);
} else {
  for (const failure of failed) {
    if (process.env.GITHUB_ACTIONS === 'true') {
      // An annotation on the run's summary page, not only a line in the log.
      console.log(`::error title=Smoke test failed: ${failure.name}::${failure.detail.replace(/\r?\n/g, ' ')}`);
    }
  }
  console.error(`smoke test FAILED at "${failed[0]?.name}": ${failed[0]?.detail}`);
  process.exitCode = 1;
}
