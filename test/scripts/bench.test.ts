import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { CPU_MULTIPLE_TARGETS } from '../../scripts/bench/report.js';
import { SCENARIOS } from '../../scripts/bench/scenarios.js';

/**
 * `npm run bench` keeps working: a tiny run (1 s per scenario, a few users) that checks the
 * report, never the speed — speed is measured by the benchmark itself, not by a test.
 */
describe('npm run bench (scripts/bench/run.ts)', function () {
  this.timeout(240_000);
  let outDir: string;

  before(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'chapi-bench-test-'));
  });
  after(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('runs every scenario through the real API, error-free, and writes the report', async () => {
    const args = ['--duration', '1', '--warmup', '0', '--rounds', '1', '--users', '4', '--tasks', '6', '--soak', '2', '--starts', '1', '--connections', '4', '--memory-tasks', '3000', '--page-clients', '2', '--out', outDir];
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/run.ts', ...args], {
      env: { ...process.env, DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr).to.equal(0);

    // The runs table, read by its header's column names.
    const header = stdout.split('\n').find((line) => line.startsWith('| scenario | round |'));
    expect(header, 'no runs table').to.be.a('string');
    const columns = (header as string).split('|').map((cell) => cell.trim());
    const column = (cells: string[], name: string): string => {
      expect(columns, `the runs table has no column "${name}"`).to.include(name);
      return cells[columns.indexOf(name)] as string;
    };
    for (const scenario of SCENARIOS) {
      const row = stdout.split('\n').find((line) => line.startsWith(`| ${scenario} | 1 |`));
      expect(row, `no row for ${scenario}`).to.be.a('string');
      const cells = (row as string).split('|').map((cell) => cell.trim());
      expect(Number(column(cells, 'req/s')), `${scenario} req/s`).to.be.greaterThan(0);
      expect(column(cells, 'non-2xx'), `${scenario} non-2xx`).to.equal('0');
      expect(column(cells, 'errors'), `${scenario} errors`).to.equal('0');
      expect(Number(column(cells, 'API peak RSS MB')), `${scenario} API peak RSS`).to.be.greaterThan(0);
      expect(Number(column(cells, 'bare Koa CPU ms/req')), `${scenario} bare Koa CPU ms/req`).to.be.greaterThan(0);
      // The floor (Koa + body + the API's statement) has no run for health, which needs no database.
      const floorCpu = column(cells, 'floor (Koa + body + statement) CPU ms/req');
      const floorRss = column(cells, 'floor peak RSS MB');
      if (scenario === 'health') expect([floorCpu, floorRss], 'health has no floor').to.deep.equal(['n/a', 'n/a']);
      else {
        expect(Number(floorCpu), `${scenario} floor CPU ms/req`).to.be.greaterThan(0);
        expect(Number(floorRss), `${scenario} floor peak RSS`).to.be.greaterThan(0);
      }
      expect(Number(column(cells, 'API CPU ms/req ÷ bare Koa CPU ms/req')), `${scenario} CPU multiple`).to.be.greaterThan(0);
      const cpuRow = stdout.split('\n').find((line) => line.startsWith(`| ${scenario} | `) && line.includes(`| ≤ ${CPU_MULTIPLE_TARGETS[scenario]} |`));
      expect(cpuRow, `no CPU-multiple target row for ${scenario}`).to.be.a('string');
      // Its last two cells: the floor as a multiple of bare Koa, and the API's CPU over the floor's.
      const cpuCells = (cpuRow as string).split('|').map((cell) => cell.trim());
      if (scenario !== 'health') {
        expect(Number(cpuCells.at(-3)), `${scenario} floor multiple`).to.be.greaterThan(0);
        expect(Number(cpuCells.at(-2)), `${scenario} API over floor`).to.be.greaterThan(0);
      }
    }
    expect(stdout).to.include('| scenario | round | req/s |');
    expect(stdout).to.include('API CPU ms/req ÷ bare Koa CPU ms/req');
    expect(stdout).to.match(/\| API peak RSS under load \(floor server: [\d.]+ MB\) \| [\d.]+ MB \|/);
    expect(stdout).to.match(/\| soak: 2 s mixed, \d+ requests \| 0 errors;/);
    // The memory scenarios: every largest page answered whole, every task of the long listing.
    expect(stdout).to.match(/\| memory: 2 concurrent pages of 1000 largest tasks \([\d.]+ MB each\), 3 rounds \| peak RSS [\d.]+ MB, 0 failures \|/);
    expect(stdout).to.match(/\| memory: list-tasks without limit, 3000 tasks \([\d.]+ MB in [\d.]+ s\) \| peak RSS [\d.]+ MB, count 3000 \|/);

    const files = await readdir(outDir);
    const json = files.find((file) => file.endsWith('.json'));
    expect(json).to.be.a('string');
    const report = JSON.parse(await readFile(path.join(outDir, json as string), 'utf8')) as { runs: unknown[]; statementsMeasured: boolean };
    expect(report.runs).to.have.length(SCENARIOS.length);
    expect(report.statementsMeasured).to.equal(true);
    // It says where it wrote them: both files, by the path it printed.
    const written = /report written to (\S+\.md) and (\S+\.json)/.exec(stderr);
    expect(written, stderr).not.to.equal(null);
    expect(path.resolve(written?.[2] as string)).to.equal(path.join(outDir, json as string));
    expect(existsSync(path.resolve(written?.[1] as string))).to.equal(true);
  });
});
