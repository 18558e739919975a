/**
 * `npm run keys -- <command>` (in the image: `node api/dist/cli/keys.js <command>`): issue,
 * list, rotate and revoke service API keys in the database that `DATABASE_URL` names.
 *
 * The same implementation as the admin routes (`keys/service.ts`); every action writes one
 * JSON audit line to stderr (action, key name, actor `cli`), never the key. A new key is
 * printed once, on stdout, and stored nowhere but as its SHA-256.
 */
import { systemClock } from '../clock.js';
import { createSql, type Sql } from '../db.js';
import { auditToLogger } from '../keys/audit.js';
import { KEY_ENVIRONMENTS, type KeyEnvironment } from '../keys/format.js';
import {
  createKey,
  DEFAULT_ROTATION_GRACE_MS,
  KEY_NAME_PATTERN,
  KeyActionError,
  listKeys,
  revokeKey,
  rotateKey,
  type KeyListItem,
  type KeyServiceDeps,
} from '../keys/service.js';
import { parseCommandLine, showUsage } from './args.js';
import { requireDatabaseUrl } from './database-url.js';
import { probePostgres } from './postgres-probe.js';
import { formatGrace, parseGrace } from './duration.js';
import { CliError, EXIT, exitCodesHelp, usageError, type ExitCode } from './exit-codes.js';
import { createCliLogger, runCli } from './run.js';

const USAGE = `Usage: npm run keys -- <command> [options]
       node api/dist/cli/keys.js <command> [options]     (in the image)

Service API keys in the database that DATABASE_URL names.

Commands:
  create <name> --env dev|test|prod   issue a key; it is printed once and stored only as a hash
  list                                 every key: name, environment, prefix, status (no secrets)
  rotate <name> [--grace 7d]           issue a new key for the name; the current one keeps
                                       working for the grace period (7d, 12h, 30m, 0; default 7d)
  revoke <name>                        stop every key of the name (one in grace included): at once
                                       in the database, within 30 s on running API tasks

Options:
  --json        machine-readable output on stdout
  -h, --help    this help (also: help)

Names are 1 to 100 characters of a-z, 0-9 and -. Keys managed by the deployment
(SERVICE_API_KEYS) cannot be rotated or revoked here: change the secret instead.

Environment:
  DATABASE_URL  postgres:// connection string (required)

${exitCodesHelp([
  [EXIT.ok, 'done'],
  [EXIT.failure, 'an unexpected error'],
  [EXIT.usage, 'bad arguments'],
  [EXIT.badEnvironment, '--env is not dev, test or prod'],
  [EXIT.notFound, 'no active key has that name (rotate, revoke)'],
  [EXIT.nameTaken, 'the name already has an active key (create)'],
  [EXIT.managedKey, 'the key is managed by the deployment (SERVICE_API_KEYS): change the secret'],
  [EXIT.config, 'configuration: DATABASE_URL, login, missing database or table'],
  [EXIT.unavailable, 'the database cannot be reached, or is not PostgreSQL: retry later'],
])}`;

/** The application name the CLI's sessions show in `pg_stat_activity`. */
const APPLICATION_NAME = 'chapi-keys';
/**
 * A one-off command: a couple of connections (rotate runs a transaction while nothing else
 * runs), and a connect timeout that lets Neon wake a suspended compute.
 */
const POOL_MAX = 2;
const CONNECT_TIMEOUT_S = 30;
/** Each command is a few single-row statements: anything near this long means a stuck lock. */
const STATEMENT_TIMEOUT_MS = 30_000;

type Command = 'create' | 'list' | 'rotate' | 'revoke';
const COMMANDS: readonly Command[] = ['create', 'list', 'rotate', 'revoke'];

/** Which options each command accepts; any other is a usage error rather than silently ignored. */
const COMMAND_OPTIONS: Record<Command, readonly string[]> = {
  create: ['env'],
  list: [],
  rotate: ['grace'],
  revoke: [],
};

interface Invocation {
  command: Command;
  keyName: string;
  environment?: KeyEnvironment;
  graceMs?: number;
  json: boolean;
}

/** Parses argv into one command; `undefined` for `--help`. */
function parseInvocation(argv: string[]): Invocation | undefined {
  const { values, positionals } = parseCommandLine({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      env: { type: 'string' },
      grace: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  // `help` as a command too: `npm run keys -- help` is what people type after `npm run keys`.
  if (values.help || positionals[0] === 'help') return undefined;
  const [commandName, ...names] = positionals;
  if (commandName === undefined) throw usageError('no command given (create, list, rotate or revoke)');
  if (!(COMMANDS as readonly string[]).includes(commandName)) {
    throw usageError(`unknown command "${commandName}" (create, list, rotate or revoke)`);
  }
  const command = commandName as Command;
  for (const option of ['env', 'grace'] as const) {
    if (values[option] !== undefined && !COMMAND_OPTIONS[command].includes(option)) {
      throw usageError(`${command} takes no --${option}`);
    }
  }
  if (command === 'list') {
    if (names.length > 0) throw usageError('list takes no name');
    return { command, keyName: '', json: values.json };
  }
  if (names.length !== 1) throw usageError(`${command} takes exactly one key name`);
  const keyName = names[0] as string;
  if (!KEY_NAME_PATTERN.test(keyName)) {
    throw usageError(`"${keyName}" is not a key name: 1 to 100 characters of a-z, 0-9 and -`);
  }
  const invocation: Invocation = { command, keyName, json: values.json };
  if (command === 'create') {
    if (values.env === undefined) throw usageError('create needs --env dev|test|prod');
    if (!(KEY_ENVIRONMENTS as readonly string[]).includes(values.env)) {
      throw new CliError(EXIT.badEnvironment, `--env must be dev, test or prod (got "${values.env}")`);
    }
    invocation.environment = values.env as KeyEnvironment;
  }
  if (command === 'rotate' && values.grace !== undefined) {
    const grace = parseGrace(values.grace);
    if ('error' in grace) throw usageError(grace.error);
    invocation.graceMs = grace.ms;
  }
  return invocation;
}

/** A `KeyActionError` as the CLI reports it: each refusal has its own exit code. */
function refusal(error: KeyActionError): CliError {
  const exitCode = { no_active_key: EXIT.notFound, name_taken: EXIT.nameTaken, managed: EXIT.managedKey }[error.reason];
  return new CliError(exitCode, error.message);
}

function iso(date: Date | null): string {
  return date === null ? '-' : date.toISOString();
}

/** The list as aligned columns; the widths follow the content. */
function formatTable(keys: KeyListItem[]): string {
  const header = ['NAME', 'ENV', 'PREFIX', 'STATUS', 'MANAGED', 'CREATED', 'EXPIRES', 'LAST USED'];
  const rows = keys.map((key) => [
    key.key_name,
    key.environment,
    key.display_prefix,
    key.status,
    key.managed ? 'yes' : 'no',
    iso(key.created_at),
    iso(key.expires_at),
    iso(key.last_used_at),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column] as number)).join('  ').trimEnd()).join('\n');
}

async function execute(invocation: Invocation, deps: KeyServiceDeps): Promise<void> {
  const print = (text: string, json: unknown): void => {
    console.log(invocation.json ? JSON.stringify(json, null, 2) : text);
  };
  switch (invocation.command) {
    case 'create': {
      const { row, plaintext } = await createKey(deps, {
        keyName: invocation.keyName,
        environment: invocation.environment as KeyEnvironment,
      });
      print(
        [
          `Created key "${row.key_name}" (${row.environment}). It is shown only this once: store it now.`,
          plaintext,
        ].join('\n'),
        { id: row.id, key_name: row.key_name, environment: row.environment, service_key: plaintext, created_at: row.created_at },
      );
      return;
    }
    case 'list': {
      const keys = await listKeys(deps);
      print(
        keys.length === 0 ? 'No service keys yet. Create one: npm run keys -- create <name> --env dev|test|prod' : formatTable(keys),
        { keys },
      );
      return;
    }
    case 'rotate': {
      const rotated = await rotateKey(deps, {
        keyName: invocation.keyName,
        ...(invocation.graceMs === undefined ? {} : { graceMs: invocation.graceMs }),
      });
      const graceMs = invocation.graceMs ?? DEFAULT_ROTATION_GRACE_MS;
      print(
        [
          `Rotated key "${invocation.keyName}". The new key is shown only this once: store it now.`,
          rotated.plaintext,
          graceMs === 0
            ? 'The old key stopped working now (no grace period).'
            : `The old key keeps working until ${rotated.oldKeyExpiresAt.toISOString()} (${formatGrace(graceMs)}).`,
        ].join('\n'),
        { key_name: invocation.keyName, new_key: rotated.plaintext, old_key_expires_at: rotated.oldKeyExpiresAt },
      );
      return;
    }
    case 'revoke': {
      const { revoked } = await revokeKey(deps, { keyName: invocation.keyName });
      print(`Revoked ${revoked} key${revoked === 1 ? '' : 's'} named "${invocation.keyName}": they stop working within 30 s on every running API task (its key cache).`, {
        key_name: invocation.keyName,
        revoked,
      });
      return;
    }
  }
}

async function main(): Promise<ExitCode> {
  const invocation = parseInvocation(process.argv.slice(2));
  if (invocation === undefined) return showUsage(USAGE);
  const url = requireDatabaseUrl(process.env, 'DATABASE_URL');
  await probePostgres(url);
  const sql: Sql = createSql(
    {
      url,
      poolMax: POOL_MAX,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
      connectTimeoutS: CONNECT_TIMEOUT_S,
      idleTimeoutS: CONNECT_TIMEOUT_S,
      prepare: 'auto',
    },
    { applicationName: APPLICATION_NAME },
  );
  const deps: KeyServiceDeps = { sql, clock: systemClock, audit: auditToLogger(createCliLogger()), actor: 'cli' };
  try {
    await execute(invocation, deps);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof KeyActionError) throw refusal(error);
    throw error;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

await runCli(main, [process.env.DATABASE_URL ?? '']);
