/**
 * Runs one of the real CLIs as its own process (`node --import tsx api/src/cli/<name>.ts`),
 * the way an operator or the migration task does, and collects what it printed.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** How a CLI process ended and what it printed. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLIs' own environment variables: a test passes exactly the ones it means. */
const CLI_VARIABLES = ['DATABASE_URL', 'MIGRATION_DATABASE_URL', 'SERVICE_API_KEYS', 'NODE_ENV'];

/** A CLI process that is still running. */
export interface RunningCli {
  result: Promise<CliResult>;
  pid: number | undefined;
}

/** Starts `api/src/cli/<cli>.ts` with `args`; `env` is added to a copy of ours without the CLI variables. */
export function startCli(cli: 'keys' | 'migrate' | 'import', args: string[], env: Record<string, string>): RunningCli {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !CLI_VARIABLES.includes(name)));
  const child = spawn(process.execPath, ['--import', 'tsx', `api/src/cli/${cli}.ts`, ...args], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { result, pid: child.pid };
}

/** Runs a CLI to completion. */
export async function runCli(cli: 'keys' | 'migrate' | 'import', args: string[], env: Record<string, string>): Promise<CliResult> {
  return await startCli(cli, args, env).result;
}

/** The JSON lines of a CLI's stderr (its audit log), skipping plain-text lines. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * `npm run <script> -- <args>` from the repository root, exactly as typed in a terminal
 * (npm's own lines silenced). `env` is added to a copy of ours without the CLI variables.
 */
export async function npmRun(script: string, args: string[], env: Record<string, string>): Promise<CliResult & { ms: number }> {
  const started = Date.now();
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !CLI_VARIABLES.includes(name)));
  const child = spawn('npm', ['run', '--silent', script, '--', ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  return { code, stdout, stderr, ms: Date.now() - started };
}
