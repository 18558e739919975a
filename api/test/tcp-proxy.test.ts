/**
 * The fault-injection proxy (api/test/helpers/tcp-proxy.ts) itself: it forwards, holds without
 * losing a byte, cuts, and restores.
 */
import { once } from 'node:events';
import net from 'node:net';
import { expect } from 'chai';
import { waitFor } from './helpers/wait.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

describe('tcp-proxy (test support)', () => {
  let echo: net.Server;
  let proxy: TcpProxy;

  before(async () => {
    // An echo server: whatever arrives goes back.
    echo = net.createServer((socket) => {
      // A cut resets this side too.
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    proxy = await startTcpProxy({ host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port });
  });
  after(async () => {
    await proxy.close();
    echo.close();
  });
  afterEach(() => proxy.restore());

  async function connect(): Promise<{ socket: net.Socket; received: () => string; closed: Promise<boolean> }> {
    const socket = net.connect(proxy.port, '127.0.0.1');
    let data = '';
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
    socket.on('error', () => undefined);
    // Not events.once: it rejects on the 'error' that precedes a reset's 'close'.
    const closed = new Promise<boolean>((resolve) => socket.once('close', resolve));
    await once(socket, 'connect');
    return { socket, received: () => data, closed };
  }

  it('forwards both ways and counts connections', async () => {
    const accepted = proxy.accepted;
    const client = await connect();
    client.socket.write('hello');
    await waitFor(() => client.received() === 'hello', { timeoutMs: 5_000, what: 'the echo' });
    expect(proxy.accepted).to.equal(accepted + 1);
    expect(proxy.open).to.be.at.least(1);
    client.socket.destroy();
    await waitFor(() => proxy.open === 0, { timeoutMs: 5_000, what: 'the pair to close' });
  });

  it('hold keeps every byte and restore delivers them in order', async () => {
    const client = await connect();
    proxy.hold();
    client.socket.write('one ');
    client.socket.write('two ');
    await waitFor(() => proxy.held === 'one two '.length, { timeoutMs: 5_000, what: 'the bytes to be held' });
    expect(client.received()).to.equal('');
    proxy.restore();
    expect(proxy.held).to.equal(0);
    client.socket.write('three');
    await waitFor(() => client.received() === 'one two three', { timeoutMs: 5_000, what: 'the held bytes' });
    client.socket.destroy();
  });

  it('cut resets open connections and refuses new ones until restore', async () => {
    const client = await connect();
    proxy.cut();
    expect(await client.closed).to.equal(true);
    // Accepted, then reset at once: the client sees its connection fail.
    const refused = net.connect(proxy.port, '127.0.0.1');
    const [error] = (await once(refused, 'error').catch((failure: unknown) => [failure])) as [NodeJS.ErrnoException];
    expect(error.code).to.equal('ECONNRESET');
    proxy.restore();
    const again = await connect();
    again.socket.write('back');
    await waitFor(() => again.received() === 'back', { timeoutMs: 5_000, what: 'the echo after restore' });
    again.socket.destroy();
  });

  it('listens on a given port: a client can wait for a server that is not there yet', async () => {
    // A port nothing listens on (taken, then released).
    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as net.AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const refused = net.connect(port, '127.0.0.1');
    const [error] = (await once(refused, 'error').catch((failure: unknown) => [failure])) as [NodeJS.ErrnoException];
    expect(error.code).to.equal('ECONNREFUSED');

    const late = await startTcpProxy({ host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port }, { port });
    try {
      expect(late.port).to.equal(port);
      const socket = net.connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
      socket.write('late');
      await waitFor(() => received === 'late', { timeoutMs: 5_000, what: 'the echo through the late proxy' });
      socket.destroy();
    } finally {
      await late.close();
    }
  });

  it('rewrites a database URL to go through it', () => {
    expect(proxy.databaseUrl('postgres://u:p@db.example:5432/app?sslmode=disable')).to.equal(
      `postgres://u:p@127.0.0.1:${proxy.port}/app?sslmode=disable`,
    );
  });
});
