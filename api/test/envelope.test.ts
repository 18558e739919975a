/**
 * Success answers are written as text (`successText`, `successTextAround`), not serialised from
 * an object: the text must be the bytes `JSON.stringify` writes for the envelope, its fields in
 * the order the documented schema lists them (`schemas/envelope.ts`).
 */
import { expect } from 'chai';
import { JsonText, successText, successTextAround, type SuccessEnvelope } from '../src/envelope.js';
import { successEnvelope } from '../src/schemas/envelope.js';

const NOW = Date.UTC(2026, 11, 6, 7, 8, 9, 123);
/** The envelope's fields in the documented order. */
const FIELDS = Object.keys((successEnvelope({}) as { properties: Record<string, unknown> }).properties);

function envelope<T>(data: T): SuccessEnvelope<T> {
  const values: SuccessEnvelope<T> = { success: true, data, error: null, timestamp: new Date(NOW).toISOString() };
  return Object.fromEntries(FIELDS.map((field) => [field, values[field as keyof SuccessEnvelope<T>]])) as unknown as SuccessEnvelope<T>;
}

describe('the success envelope as text', () => {
  const values: unknown[] = [{ total_tasks: 3, completion_rate: 33.33 }, { success: true, deleted_id: 'x' }, [], 'text "quoted"\n', null, 0];

  it('is JSON.stringify of the envelope, for a value serialised here', () => {
    for (const data of values) expect(successText(data, NOW)).to.equal(JSON.stringify(envelope(data)));
  });

  it('splices JSON text in as it is, with the same bytes as the value it encodes', () => {
    for (const data of values) expect(successText(new JsonText(JSON.stringify(data)), NOW)).to.equal(JSON.stringify(envelope(data)));
  });

  it('in pieces, head + data + tail is the whole', () => {
    const [head, tail] = successTextAround(NOW);
    for (const data of values) expect(head + JSON.stringify(data) + tail).to.equal(successText(data, NOW));
  });
});
