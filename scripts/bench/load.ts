/**
 * The load generator: one autocannon run, in its own process (pinned to its own core by the
 * orchestrator), so that generating load never competes with the API for the same CPU.
 *
 * Input: one JSON argument (`LoadSpec`). Output: one JSON line (`LoadResult`) on stdout.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { nextRequest, type ScenarioName, type SeedData } from './scenarios.js';

export interface LoadSpec {
  url: string;
  scenario: ScenarioName;
  /** Seed data file (JSON `SeedData`); absent for the bare server. */
  seedFile?: string;
  connections: number;
  durationS: number;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadSpec;
  const seed: SeedData = spec.seedFile ? (JSON.parse(readFileSync(spec.seedFile, 'utf8')) as SeedData) : { apiKey: '', users: [] };
  const headers = { 'content-type': 'application/json', 'x-api-key': seed.apiKey };
  // Requests that never change are encoded once: the bare server and /health measure the
  // server, not the cost of building requests. The others draw a new request every time.
  const fixedPath = spec.seedFile === undefined ? '/' : spec.scenario === 'health' ? '/health' : undefined;
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    requests: [
      fixedPath === undefined
        ? {
            setupRequest: (request) => {
              const next = nextRequest(spec.scenario, seed);
              return { ...request, method: next.method, path: next.path, body: next.body, headers };
            },
          }
        : { method: 'GET', path: fixedPath, headers },
    ],
  });
  const output: LoadResult = {
    requests: result.requests.total,
    rps: result.requests.total / spec.durationS,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

await main();
