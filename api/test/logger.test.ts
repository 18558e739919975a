import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { createLoggerOptions, requestLineWriter, type RequestLine } from '../src/logger.js';

/** A pino logger with the API's options whose lines are kept as written. */
function recordingLogger(level: 'info' | 'warn', version = 'v1 "quoted"') {
  const written: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: pino(createLoggerOptions({ level, version }), sink), written };
}

/** The time field differs between two lines written a moment apart: compare without it. */
const withoutTime = (line: string): string => line.replace(/"time":"[^"]*"/, '"time":"…"');

describe('logger: the access log line (requestLineWriter)', () => {
  const lines: RequestLine[] = [
    { request_id: 'req-1', method: 'GET', route: '/health', status: 200, duration_ms: 0.42, key_name: null, user_id: null },
    {
      request_id: 'c0ffee00-0000-4000-8000-000000000000',
      method: 'POST',
      route: '/execute',
      status: 404,
      duration_ms: 12,
      key_name: 'cat-house',
      user_id: 'user "quoted" \\ back\nslash\ttab \u0001 ünïcødé 🐈',
    },
    { request_id: 'x', method: 'PATCH', route: null, status: 422, duration_ms: 1234.56, key_name: '(admin)', user_id: '' },
  ];

  for (const line of lines) {
    it(`writes byte for byte what pino writes for the same fields (${line.method} ${String(line.route)} ${line.status})`, async () => {
      const fast = recordingLogger('info');
      const slow = recordingLogger('info');
      requestLineWriter(fast.logger)(line);
      slow.logger.info(line, 'request');
      await new Promise((resolve) => setImmediate(resolve));
      expect(fast.written).to.have.length(1);
      expect(slow.written).to.have.length(1);
      expect(withoutTime(fast.written[0] as string)).to.equal(withoutTime(slow.written[0] as string));
      const parsed = JSON.parse(fast.written[0] as string) as Record<string, unknown>;
      expect(parsed).to.include({ level: 'info', msg: 'request', service: 'chapi', version: 'v1 "quoted"', user_id: line.user_id });
      expect(new Date(parsed.time as string).toISOString()).to.equal(parsed.time);
    });
  }

  it('follows the logger level, also when it changes after the writer was made', async () => {
    const { logger, written } = recordingLogger('warn');
    const write = requestLineWriter(logger);
    write(lines[0] as RequestLine);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).to.deep.equal([]);
    logger.level = 'info';
    write(lines[0] as RequestLine);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).to.have.length(1);
  });
});
