/**
 * Idempotent creates (docs/api.md, "Idempotent creates"), over both transports:
 * replay, conflict, the scope (service key, transport), only successes remembered, 10
 * concurrent requests creating one task, the 24 h window, and the clean-up of expired keys.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { ManualClock } from '../src/clock.js';
import { IDEMPOTENCY_WINDOW_MS } from '../src/idempotency/once.js';
import type { RunningServer } from '../src/server.js';
import { waitFor } from './helpers/wait.js';
import { apiClient, type ApiClient, type ApiResponse } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';
import { bothTransports, executeTransport, v1Transport } from './helpers/transports.js';

describe('idempotent creates', () => {
  const db = useTestDatabase();
  const clock = new ManualClock(Date.now());
  let api: RunningServer;
  let client: ApiClient;
  let key: string;

  before(async () => {
    api = await startTestApi(db.url, { clock });
    key = await createTestKey(db.sql);
    client = apiClient(api.url, { key });
  });
  after(async () => {
    await api.stop();
  });

  const withKey = (idempotencyKey: string) => ({ headers: { 'Idempotency-Key': idempotencyKey } });
  const taskCount = async (userId: string) => {
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from tasks where user_id = ${userId}`;
    return row?.n ?? -1;
  };

  for (const transport of bothTransports(() => client)) {
    describe(`over ${transport.name}`, () => {
      it('replays the first response (same status, same data) and creates nothing more', async () => {
        const userId = `u-${randomUUID()}`;
        const idempotencyKey = randomUUID();
        const first = await transport.create(userId, { title: 'once', priority: 'high' }, withKey(idempotencyKey));
        expect(first.status, first.text).to.equal(transport.createdStatus);
        expect(first.headers['idempotent-replayed']).to.equal(undefined);
        const again = await transport.create(userId, { title: 'once', priority: 'high' }, withKey(idempotencyKey));
        expect(again.status).to.equal(first.status);
        expect(again.data).to.deep.equal(first.data);
        expect(Object.keys(again.data)).to.deep.equal(Object.keys(first.data));
        expect(again.headers['idempotent-replayed']).to.equal('true');
        expect(again.headers.location).to.equal(first.headers.location);
        expect(await taskCount(userId)).to.equal(1);
      });

      it('compares bodies as parsed JSON: key order and whitespace do not matter', async () => {
        const userId = `u-${randomUUID()}`;
        const idempotencyKey = randomUUID();
        const first = await transport.create(userId, { title: 'same', description: 'd', status: 'pending' }, withKey(idempotencyKey));
        const reordered = await transport.create(userId, { status: 'pending', description: 'd', title: 'same' }, withKey(idempotencyKey));
        expect(reordered.data).to.deep.equal(first.data);
        expect(await taskCount(userId)).to.equal(1);
      });

      it('returns the remembered response even after the task changed', async () => {
        const userId = `u-${randomUUID()}`;
        const idempotencyKey = randomUUID();
        const first = await transport.create(userId, { title: 'snapshot' }, withKey(idempotencyKey));
        await transport.update(userId, first.data.id as string, { title: 'changed', status: 'completed' });
        const again = await transport.create(userId, { title: 'snapshot' }, withKey(idempotencyKey));
        expect(again.data).to.deep.equal(first.data);
      });

      it('another body or another user_id with the same key is a 409, creating nothing', async () => {
        const userId = `u-${randomUUID()}`;
        const idempotencyKey = randomUUID();
        expect((await transport.create(userId, { title: 'first' }, withKey(idempotencyKey))).status).to.equal(transport.createdStatus);
        for (const [otherUser, body] of [
          [userId, { title: 'second' }],
          [userId, { title: 'first', priority: 'low' }],
          [userId, { title: ' first' }],
          [`${userId}-other`, { title: 'first' }],
        ] as const) {
          const response = await transport.create(otherUser, body, withKey(idempotencyKey));
          expect(response.status, response.text).to.equal(409);
          expect(response.error?.code).to.equal('idempotency_conflict');
        }
        expect(await taskCount(userId)).to.equal(1);
        expect(await taskCount(`${userId}-other`)).to.equal(0);
      });

      it('only a successful create is remembered: a rejected request does not use up the key', async () => {
        const userId = `u-${randomUUID()}`;
        const idempotencyKey = randomUUID();
        expect((await transport.create(userId, { title: '' }, withKey(idempotencyKey))).status).to.equal(transport.invalidStatus);
        const created = await transport.create(userId, { title: 'valid now' }, withKey(idempotencyKey));
        expect(created.status).to.equal(transport.createdStatus);
        expect(created.headers['idempotent-replayed']).to.equal(undefined);
        const [row] = await db.sql`select count(*)::int as n from idempotency_keys where idempotency_key = ${idempotencyKey}`;
        expect(row?.n).to.equal(1);
      });

      it('10 concurrent requests with one key create one task; each gets it or a 409', async () => {
        const userId = `u-${randomUUID()}`;
        const idempotencyKey = randomUUID();
        const same = await Promise.all(Array.from({ length: 10 }, () => transport.create(userId, { title: 'race' }, withKey(idempotencyKey))));
        expect(await taskCount(userId)).to.equal(1);
        const ids = new Set(same.map((response) => response.data?.id));
        expect(same.every((response) => response.status === transport.createdStatus), same.map((response) => response.status).join()).to.equal(true);
        expect(ids.size).to.equal(1);
        expect(same.filter((response) => response.headers['idempotent-replayed'] === 'true')).to.have.length(9);

        const otherUser = `u-${randomUUID()}`;
        const otherKey = randomUUID();
        const mixed = await Promise.all(
          Array.from({ length: 10 }, (_, index) => transport.create(otherUser, { title: `race ${index % 2}` }, withKey(otherKey))),
        );
        expect(await taskCount(otherUser)).to.equal(1);
        const winner = mixed.find((response) => response.status === transport.createdStatus && response.headers['idempotent-replayed'] === undefined) as ApiResponse;
        for (const response of mixed) {
          if (response.data?.title === winner.data.title) expect(response.data).to.deep.equal(winner.data);
          else expect(response.error?.code).to.equal('idempotency_conflict');
        }
      });

      it('validates the header: 1..255 characters (422 on /headers/idempotency-key)', async () => {
        const userId = `u-${randomUUID()}`;
        for (const bad of ['', 'k'.repeat(256)]) {
          const response = await transport.create(userId, { title: 't' }, withKey(bad));
          expect(response.status).to.equal(422);
          expect(response.error?.details?.[0]?.path).to.equal('/headers/idempotency-key');
        }
        expect((await transport.create(userId, { title: 't' }, withKey('k'.repeat(255)))).status).to.equal(transport.createdStatus);
        expect(await taskCount(userId)).to.equal(1);
      });
    });
  }

  it('is scoped by transport: the same key on the other transport is a new create', async () => {
    const userId = `u-${randomUUID()}`;
    const idempotencyKey = randomUUID();
    const viaExecute = await executeTransport(client).create(userId, { title: 'scoped' }, withKey(idempotencyKey));
    const viaV1 = await v1Transport(client).create(userId, { title: 'scoped' }, withKey(idempotencyKey));
    expect(viaV1.status).to.equal(201);
    expect(viaV1.data.id).not.to.equal(viaExecute.data.id);
    expect(await taskCount(userId)).to.equal(2);
  });

  it('is scoped by service key: another key (as a rotated key is: a new row, a new id) is a new create', async () => {
    const userId = `u-${randomUUID()}`;
    const idempotencyKey = randomUUID();
    const first = await executeTransport(client).create(userId, { title: 'per key' }, withKey(idempotencyKey));
    const other = apiClient(api.url, { key: await createTestKey(db.sql) });
    const second = await executeTransport(other).create(userId, { title: 'per key' }, withKey(idempotencyKey));
    expect(second.status).to.equal(200);
    expect(second.data.id).not.to.equal(first.data.id);
    expect(await taskCount(userId)).to.equal(2);
  });

  it('remembers a key for 24 hours, then forgets it', async () => {
    const userId = `u-${randomUUID()}`;
    const idempotencyKey = randomUUID();
    const execute = executeTransport(client);
    const first = await execute.create(userId, { title: 'day one' }, withKey(idempotencyKey));
    clock.advance(IDEMPOTENCY_WINDOW_MS - 1);
    expect((await execute.create(userId, { title: 'day one' }, withKey(idempotencyKey))).data.id).to.equal(first.data.id);
    expect((await execute.create(userId, { title: 'other' }, withKey(idempotencyKey))).status).to.equal(409);
    clock.advance(1);
    const later = await execute.create(userId, { title: 'day two' }, withKey(idempotencyKey));
    expect(later.status).to.equal(200);
    expect(later.headers['idempotent-replayed']).to.equal(undefined);
    expect(later.data.id).not.to.equal(first.data.id);
    const replay = await execute.create(userId, { title: 'day two' }, withKey(idempotencyKey));
    expect(replay.data.id).to.equal(later.data.id);
    expect(await taskCount(userId)).to.equal(2);
  });

  it('deletes expired keys by itself, as new ones are written', async () => {
    const userId = `u-${randomUUID()}`;
    const old = randomUUID();
    await executeTransport(client).create(userId, { title: 'old' }, withKey(old));
    clock.advance(IDEMPOTENCY_WINDOW_MS + 60_000);
    await executeTransport(client).create(userId, { title: 'new' }, withKey(randomUUID()));
    await waitFor(
      async () => {
        const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from idempotency_keys where idempotency_key = ${old}`;
        return row?.n === 0;
      },
      { timeoutMs: 10_000, what: 'the expired idempotency key to be deleted' },
    );
    const [left] = await db.sql<{ n: number }[]>`select count(*)::int as n from idempotency_keys where expires_at <= ${new Date(clock.now())}`;
    expect(left?.n).to.equal(0);
  });

  it('ignores the header on other actions', async () => {
    const response = await client.execute('list-tasks', 'u', {}, withKey(''));
    expect(response.status).to.equal(200);
  });
});
