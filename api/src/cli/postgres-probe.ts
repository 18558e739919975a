/**
 * Before a CLI hands its URL to a driver: is what listens at the URL's host and port
 * PostgreSQL at all? Neither driver says so by itself. Against a server that accepts TCP and
 * then closes (the API's own port 8888, an easy slip for 5435), porsager/postgres reconnects in
 * a tight loop for ever; against one that never answers, pg waits out its connect timeout
 * and reports a generic "timeout". The probe asks the question the protocol lets every client
 * ask first, and turns each way of failing into one line naming the host and port (exit 8).
 *
 * The question is the SSLRequest message (an Int32 length 8 and the code 80877103); a
 * PostgreSQL server (and a pooler in front of one: PgBouncer, Neon's proxy) answers it with
 * one byte, `S` or `N`, before anything else:
 * https://www.postgresql.org/docs/17/protocol-flow.html#PROTOCOL-FLOW-SSL
 * https://www.postgresql.org/docs/17/protocol-message-formats.html (SSLRequest)
 * The probe closes the connection after that byte; the driver then connects as usual.
 */
import { connect } from 'node:net';
import { CliError, EXIT } from './exit-codes.js';

/** The SSLRequest code: 1234 in the high 16 bits, 5679 in the low 16 bits. */
const SSL_REQUEST_CODE = 80877103;
/** How long the TCP connection may take: as long as the CLIs' own connect timeout (a waking Neon compute). */
export const PROBE_CONNECT_TIMEOUT_MS = 30_000;
/**
 * How long a connected server may take to answer the SSLRequest. PostgreSQL answers before it
 * does any work for the session (Neon's proxy answers it itself, before waking the compute).
 */
export const PROBE_ANSWER_TIMEOUT_MS = 10_000;

/** `host:port` of a postgres:// URL, as messages name it (IPv6 hosts in brackets); default port 5432. */
export function databaseAddress(url: string): { host: string; port: number; label: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  // A multi-host URL or a Unix socket (`?host=/run/postgresql`) is left to the driver.
  if (parsed.hostname === '' || parsed.hostname.includes(',') || parsed.searchParams.has('host')) return undefined;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = parsed.port === '' ? 5432 : Number(parsed.port);
  return { host, port, label: `${parsed.hostname}:${port}` };
}

/** What the first bytes of a non-PostgreSQL answer look like, for the message. */
function describeAnswer(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  if (/^HTTP\/\d/.test(text)) return 'an HTTP server answered';
  return `it answered ${JSON.stringify(text.slice(0, 16))}`;
}

/**
 * PostgreSQL answers the SSLRequest with exactly one byte, `S` or `N`, then waits for the
 * client (so nothing else can arrive with it: an SSH banner "SSH-2.0-…" is not an answer).
 * A server too old for SSL answers with an ErrorResponse (`E`, then its Int32 length).
 */
function isPostgresAnswer(bytes: Buffer): boolean {
  const first = bytes[0];
  if (bytes.length === 1) return first === 0x53 || first === 0x4e;
  return first === 0x45 && bytes.length >= 5 && bytes.readInt32BE(1) >= 4;
}

export interface ProbeTimeouts {
  connectMs?: number;
  answerMs?: number;
}

/**
 * Resolves when a PostgreSQL server (or pooler) answers at the URL's host and port; throws a
 * `CliError` (exit 8) naming them otherwise. A URL it cannot place (socket, several hosts) passes.
 */
export async function probePostgres(url: string, timeouts: ProbeTimeouts = {}): Promise<void> {
  const address = databaseAddress(url);
  if (address === undefined) return;
  const connectMs = timeouts.connectMs ?? PROBE_CONNECT_TIMEOUT_MS;
  const answerMs = timeouts.answerMs ?? PROBE_ANSWER_TIMEOUT_MS;
  const where = `the database at ${address.label}`;
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port });
    let connected = false;
    const fail = (message: string): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new CliError(EXIT.unavailable, message));
    };
    let timer = setTimeout(() => fail(`cannot reach ${where}: no connection within ${connectMs / 1000} s`), connectMs);
    socket.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(
        () => fail(`${where} accepted the connection but did not answer as PostgreSQL within ${answerMs / 1000} s: is that port PostgreSQL's?`),
        answerMs,
      );
      const request = Buffer.alloc(8);
      request.writeInt32BE(8, 0);
      request.writeInt32BE(SSL_REQUEST_CODE, 4);
      socket.write(request);
    });
    socket.once('data', (bytes: Buffer) => {
      if (isPostgresAnswer(bytes)) {
        clearTimeout(timer);
        socket.destroy();
        resolve();
        return;
      }
      fail(`${where} is not PostgreSQL: ${describeAnswer(bytes)}. Check the host and port in the URL.`);
    });
    socket.once('end', () => fail(`${where} closed the connection without answering as PostgreSQL: is that port PostgreSQL's?`));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code ?? error.message;
      fail(connected ? `${where} dropped the connection (${reason})` : `cannot reach ${where} (${reason})`);
    });
  });
}
