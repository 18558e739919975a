/**
 * Node's own answers to requests that never reach the app: a request it cannot parse (400),
 * headers over its limit (431), a request that did not arrive within `requestTimeout` or
 * `headersTimeout` (408). Node would write a bare status line; here they get the contract's
 * envelope, an `X-Request-Id` and the security headers like every other response, and one log
 * line (never the bytes received: they may hold a key).
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import type { Clock } from './clock.js';
import { failure } from './envelope.js';
import type { ErrorCode } from './errors.js';
import type { Logger } from './logger.js';
import { requestIdFor } from './middleware/request-id.js';
import { SECURITY_HEADERS } from './middleware/security-headers.js';

interface ClientErrorAnswer {
  status: number;
  code: ErrorCode;
  message: string;
}

/** What a parser or timeout error from Node's HTTP server is answered with. */
export function clientErrorAnswer(error: NodeJS.ErrnoException): ClientErrorAnswer {
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return { status: 431, code: 'request_header_fields_too_large', message: 'The request headers are too large' };
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return { status: 408, code: 'request_timeout', message: 'The request did not arrive in time' };
  }
  return { status: 400, code: 'bad_request', message: 'The request is not valid HTTP' };
}

/** The server's `clientError` listener. */
export function handleClientErrors(deps: { clock: Clock; logger: Logger }) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    // A reset or a closed socket has no one left to answer.
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const answer = clientErrorAnswer(error);
    // The headers were not parsed (or not trusted): the request gets a fresh id.
    const requestId = requestIdFor(undefined);
    // No route was matched: the /v1 envelope, the contract's structured one.
    const body = JSON.stringify(failure('envelope', { code: answer.code, message: answer.message }, deps.clock.now()));
    const headers = {
      ...SECURITY_HEADERS,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'X-Request-Id': requestId,
      Connection: 'close',
    };
    const head = [`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
    deps.logger.info({ request_id: requestId, status: answer.status, code: answer.code, cause: error.code }, 'client error');
  };
}
