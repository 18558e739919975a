/**
 * `npm run import -- --from <the earlier service's DATABASE_URL>` (in the image:
 * `node api/dist/cli/import.js --from …`): copies the earlier Python service's tasks and
 * active keys into the database that `DATABASE_URL` names, then compares the tasks per user
 * on both sides (`import/earlier-service.ts` says what is copied and what is refused).
 *
 * Safe to run again, and to run again after a failure: what is already here is skipped. Keys
 * are stored as their SHA-256 only and never printed or logged; the earlier database is only
 * read.
 */
import { createSql, type Sql } from '../db.js';
import { importEarlierService, type ImportReport, type Refusal } from '../import/earlier-service.js';
import { KEY_ENVIRONMENTS, type KeyEnvironment } from '../keys/format.js';
import { parseCommandLine, showUsage } from './args.js';
import { requireDatabaseUrl } from './database-url.js';
import { CliError, EXIT, exitCodesHelp, usageError, type ExitCode } from './exit-codes.js';
import { DEFAULT_CLI_DEADLINE_MS, runCli, type CliContext } from './run.js';

const USAGE = `Usage: npm run import -- --from <url> [options]
       node api/dist/cli/import.js --from <url> [options]     (in the image)

Copies the earlier Python service's tasks (same ids, times as stored) and active keys (stored
only as their SHA-256) into the database that DATABASE_URL names, then compares the number of
tasks of every user on both sides. Safe to run again: what is already here is skipped.

Options:
  --from <url>           the earlier service's DATABASE_URL (postgres://…); only read
  --environment <env>    dev, test or prod: the environment of keys without an sk_<env>_
                         prefix (without it such keys are refused and reported)
  --batch <n>            tasks per statement (default 1000)
  --json                 the report as JSON on stdout
  -h, --help             this help

Environment:
  DATABASE_URL  chapi's database (postgres://…), migrated (npm run migrate -- up)

${exitCodesHelp([
  [EXIT.ok, 'done: everything came over and every user\'s count matches'],
  [EXIT.failure, 'an unexpected error'],
  [EXIT.usage, 'bad arguments'],
  [EXIT.badEnvironment, '--environment is not dev, test or prod'],
  [EXIT.config, 'configuration: a database URL, login, missing database or table (run the migrations first)'],
  [EXIT.unavailable, 'a database cannot be reached, or stopped answering: run again (it resumes)'],
  [EXIT.incomplete, 'it ran, but refused some rows or the counts differ: see the report, fix, run again'],
])}`;

/** The application name the import's sessions show in `pg_stat_activity`, on both sides. */
const APPLICATION_NAME = 'chapi-import';
const CONNECT_TIMEOUT_S = 30;
/** A batch of 1000 tasks is one statement; anything near this long means a stuck lock. */
const STATEMENT_TIMEOUT_MS = 60_000;
const DEFAULT_BATCH = 1000;
/** Refusals and differing users printed in full; beyond that, a count (the JSON has all). */
const SHOWN = 50;

interface Invocation {
  from: string;
  environment: KeyEnvironment | undefined;
  batchSize: number;
  json: boolean;
}

function parseInvocation(argv: string[]): Invocation | undefined {
  const { values } = parseCommandLine({
    args: argv,
    strict: true,
    options: {
      from: { type: 'string' },
      environment: { type: 'string' },
      batch: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  if (values.from === undefined) throw usageError('--from <the earlier service\'s DATABASE_URL> is required');
  const from = requireDatabaseUrl({ '--from': values.from }, '--from');
  let environment: KeyEnvironment | undefined;
  if (values.environment !== undefined) {
    if (!(KEY_ENVIRONMENTS as readonly string[]).includes(values.environment)) {
      throw new CliError(EXIT.badEnvironment, `--environment must be dev, test or prod (got "${values.environment}")`);
    }
    environment = values.environment as KeyEnvironment;
  }
  const batchSize = values.batch === undefined ? DEFAULT_BATCH : Number(values.batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw usageError('--batch must be a whole number from 1 to 10000');
  return { from, environment, batchSize, json: values.json };
}

function connect(url: string): Sql {
  return createSql(
    { url, poolMax: 1, statementTimeoutMs: STATEMENT_TIMEOUT_MS, connectTimeoutS: CONNECT_TIMEOUT_S, idleTimeoutS: CONNECT_TIMEOUT_S, prepare: 'auto' },
    { applicationName: APPLICATION_NAME },
  );
}

function refusals(title: string, list: Refusal[]): string[] {
  if (list.length === 0) return [];
  const shown = list.slice(0, SHOWN).map((refusal) => `  ${refusal.what}: ${refusal.why}`);
  const more = list.length > SHOWN ? [`  … and ${list.length - SHOWN} more (--json lists them all)`] : [];
  return [`${title} refused (${list.length}):`, ...shown, ...more];
}

function formatReport(report: ImportReport): string {
  const { keys, tasks } = report;
  const lines = [
    `keys:  ${keys.read} active on the earlier service; ${keys.imported} imported, ${keys.alreadyHere} already here, ${keys.refused.length} refused`,
    `tasks: ${tasks.read} on the earlier service; ${tasks.imported} imported, ${tasks.alreadyHere} already here, ${tasks.refused.length} refused`,
    ...refusals('keys', keys.refused),
    ...refusals('tasks', tasks.refused),
  ];
  if (report.countsDiffer.length === 0) {
    lines.push(`tasks per user: the same on both sides for all ${report.usersCompared} users`);
  } else {
    lines.push(`tasks per user: ${report.countsDiffer.length} of ${report.usersCompared} users differ (earlier → chapi):`);
    for (const row of report.countsDiffer.slice(0, SHOWN)) lines.push(`  ${JSON.stringify(row.userId)}: ${row.earlier} → ${row.chapi}`);
    if (report.countsDiffer.length > SHOWN) lines.push(`  … and ${report.countsDiffer.length - SHOWN} more (--json lists them all)`);
  }
  return lines.join('\n');
}

async function main(context: CliContext): Promise<ExitCode> {
  const invocation = parseInvocation(process.argv.slice(2));
  if (invocation === undefined) return showUsage(USAGE);
  const target = requireDatabaseUrl(process.env, 'DATABASE_URL');
  const from = connect(invocation.from);
  const to = connect(target);
  try {
    // A long import is fine; a silent one is not: the CLI's deadline restarts with every batch,
    // so it fires only when a database stops answering.
    const report = await importEarlierService(from, to, {
      environment: invocation.environment,
      batchSize: invocation.batchSize,
      onProgress: () => context.setDeadline(DEFAULT_CLI_DEADLINE_MS),
    });
    console.log(invocation.json ? JSON.stringify(report, null, 2) : formatReport(report));
    const complete = report.keys.refused.length === 0 && report.tasks.refused.length === 0 && report.countsDiffer.length === 0;
    return complete ? EXIT.ok : EXIT.incomplete;
  } finally {
    await Promise.all([from.end({ timeout: 5 }), to.end({ timeout: 5 })]);
  }
}

await runCli(main, [process.env.DATABASE_URL ?? '', ...process.argv.filter((arg) => /^postgres(ql)?:/.test(arg))]);
