/**
 * `npm run keys` and `npm run migrate`, typed the way an operator types them, with a
 * DATABASE_URL whose port is not PostgreSQL's: the API's own HTTP port (an easy slip between
 * 8888 and 5435), a server that accepts and says nothing, one that accepts and hangs up.
 * Each command ends with exit 8 and one line naming the host and port, instead of hanging.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { expect } from 'chai';
import { EXIT } from '../src/cli/exit-codes.js';
import { PROBE_ANSWER_TIMEOUT_MS } from '../src/cli/postgres-probe.js';
import { npmRun as run } from './helpers/run-cli.js';

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

describe('CLIs against a port that is not PostgreSQL (npm run keys / migrate)', function () {
  // Each run loads npm and tsx; the silent server costs the probe's answer timeout on top.
  this.timeout(180_000);
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const http = createHttpServer((_request, response) => response.end('{"success":true}'));
  const silent = createServer((socket) => track(socket));
  const hangsUp = createServer((socket) => socket.destroy());
  const ports = { http: 0, silent: 0, hangsUp: 0 };
  let connections = 0;

  before(async () => {
    http.on('connection', (socket: Socket) => {
      connections += 1;
      track(socket);
    });
    hangsUp.on('connection', () => (connections += 1));
    ports.http = await listen(http);
    ports.silent = await listen(silent);
    ports.hangsUp = await listen(hangsUp);
  });
  after(async () => {
    await close(http, sockets);
    await close(silent, sockets);
    await close(hangsUp, sockets);
  });

  const url = (port: number): string => `postgres://chapi:pw-not-printed-42@127.0.0.1:${port}/chapi`;
  const npmRun = async (script: string, args: string[], databaseUrl: string): Promise<{ code: number | null; output: string; ms: number }> => {
    const result = await run(script, args, { DATABASE_URL: databaseUrl });
    return { code: result.code, output: result.stdout + result.stderr, ms: result.ms };
  };

  for (const [script, args] of [
    ['keys', ['list']],
    ['keys', ['create', 'x', '--env', 'dev']],
    ['migrate', ['status']],
    ['migrate', ['up']],
  ] as const) {
    const command = `npm run ${script} -- ${args.join(' ')}`;

    it(`${command}: the API's HTTP port is exit 8 naming host and port, without retrying`, async () => {
      connections = 0;
      const result = await npmRun(script, [...args], url(ports.http));
      expect(result.code, result.output).to.equal(EXIT.unavailable);
      expect(result.output).to.include(`127.0.0.1:${ports.http} is not PostgreSQL: an HTTP server answered`);
      expect(result.output).not.to.include('pw-not-printed-42');
      // One probe, not a reconnect loop.
      expect(connections, 'connections made').to.equal(1);
    });

    it(`${command}: a server that hangs up is exit 8 naming host and port`, async () => {
      connections = 0;
      const result = await npmRun(script, [...args], url(ports.hangsUp));
      expect(result.code, result.output).to.equal(EXIT.unavailable);
      expect(result.output).to.match(new RegExp(`127\\.0\\.0\\.1:${ports.hangsUp} (closed the connection|dropped the connection)`));
      expect(connections, 'connections made').to.equal(1);
    });
  }

  it('npm run keys -- list: a server that never answers is exit 8 after the probe\'s answer timeout', async () => {
    const result = await npmRun('keys', ['list'], url(ports.silent));
    expect(result.code, result.output).to.equal(EXIT.unavailable);
    expect(result.output).to.include(`127.0.0.1:${ports.silent} accepted the connection but did not answer as PostgreSQL`);
    // It waited for the answer, and gave up on it rather than on some later, longer timer.
    expect(result.ms).to.be.at.least(PROBE_ANSWER_TIMEOUT_MS);
  });

  it('npm run migrate -- status: a server that never answers is exit 8 too', async () => {
    const result = await npmRun('migrate', ['status'], url(ports.silent));
    expect(result.code, result.output).to.equal(EXIT.unavailable);
    expect(result.output).to.include(`127.0.0.1:${ports.silent} accepted the connection but did not answer as PostgreSQL`);
  });
});
