import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/index.js';
import { bearer, describeBackends, makeEvent, postEvents, postgres, signUp, TestBackend } from './helpers.js';
import { connectSse } from './sse-client.js';

async function listen(app: Awaited<ReturnType<typeof buildApp>>): Promise<string> {
  return app.listen({ port: 0, host: '127.0.0.1' });
}

describeBackends('live stream', (backend) => {
  it('delivers new events over SSE (id = event id), honouring filters and the account', async () => {
    const app = await backend.app();
    const url = await listen(app);
    const a = await signUp(app);
    const b = await signUp(app);
    const stream = await connectSse(`${url}/api/v1/events/stream?category=network`, bearer(a.apiToken));
    const other = await connectSse(`${url}/api/v1/events/stream`, bearer(b.apiToken));
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);

    const network = makeEvent({ category: 'network' });
    const file = makeEvent({ category: 'filesystem', operation: 'read', target: '/tmp/a' });
    expect((await postEvents(app, a.licenseKey, [file, network])).json().accepted).toBe(2);
    const [message] = await stream.waitFor(1);
    expect(message).toEqual({ id: network.id, event: 'event', data: expect.any(String) });
    expect(JSON.parse(message!.data)).toMatchObject({
      id: network.id,
      category: 'network',
      target: network.target,
    });

    // Duplicates are not streamed again.
    await postEvents(app, a.licenseKey, [network]);
    const later = makeEvent();
    await postEvents(app, a.licenseKey, [later]);
    await stream.waitFor(2);
    expect(stream.messages.map((m) => m.id)).toEqual([network.id, later.id]);
    await sleep(100);
    expect(other.messages).toEqual([]);
    stream.close();
    other.close();
  });

  it('resumes after Last-Event-ID: replays what followed from storage, then goes live, without repeats', async () => {
    const app = await backend.app();
    const url = await listen(app);
    const user = await signUp(app);
    const first = [makeEvent(), makeEvent(), makeEvent()];
    await postEvents(app, user.licenseKey, first);
    const resumed = await connectSse(`${url}/api/v1/events/stream`, {
      ...bearer(user.apiToken),
      'last-event-id': first[0]!.id,
    });
    await resumed.waitFor(2);
    const live = makeEvent();
    await postEvents(app, user.licenseKey, [live]);
    await resumed.waitFor(3);
    await sleep(100);
    expect(resumed.messages.map((m) => m.id)).toEqual([first[1]!.id, first[2]!.id, live.id]);
    resumed.close();

    const viaQuery = await connectSse(
      `${url}/api/v1/events/stream?lastEventId=${first[1]!.id}`,
      bearer(user.apiToken),
    );
    await viaQuery.waitFor(2);
    expect(viaQuery.messages.map((m) => m.id)).toEqual([first[2]!.id, live.id]);
    viaQuery.close();
  });

  it('sends nothing twice and nothing before Last-Event-ID when batch announcements arrive late', async () => {
    // Delay every announcement, as PostgreSQL NOTIFY may be delayed behind a busy connection.
    const delayed = new Proxy(backend.storage, {
      get(target, property, receiver) {
        if (property === 'onBatchInserted') {
          return (listener: Parameters<typeof target.onBatchInserted>[0]) =>
            target.onBatchInserted((notice) => setTimeout(() => listener(notice), 400));
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const app = await backend.app({ storage: delayed });
    const url = await listen(app);
    const user = await signUp(app);
    const first = [makeEvent(), makeEvent(), makeEvent()];
    await postEvents(app, user.licenseKey, first);
    const stream = await connectSse(`${url}/api/v1/events/stream`, {
      ...bearer(user.apiToken),
      'last-event-id': first[0]!.id,
    });
    await stream.waitFor(2);
    await sleep(600);
    const live = makeEvent();
    await postEvents(app, user.licenseKey, [live]);
    await stream.waitFor(3);
    await sleep(200);
    expect(stream.messages.map((m) => m.id)).toEqual([first[1]!.id, first[2]!.id, live.id]);
    stream.close();
  });

  it('refuses unauthenticated streams and bad filters with JSON errors', async () => {
    const app = await backend.app();
    const url = await listen(app);
    const res = await fetch(`${url}/api/v1/events/stream`);
    expect(res.status).toBe(401);
    expect((await res.json()).error.code).toBe('AUTHENTICATION_REQUIRED');
    const user = await signUp(app);
    const bad = await fetch(`${url}/api/v1/events/stream?category=gpu`, { headers: bearer(user.apiToken) });
    expect(bad.status).toBe(400);
  });
});

describe.skipIf('skipReason' in postgres)('live stream fan-out across instances [postgres]', () => {
  it('streams every event from every instance sharing one PostgreSQL (LISTEN/NOTIFY once per batch)', async () => {
    const backend = new TestBackend('postgres');
    await backend.setup();
    try {
      const storage2 = await backend.openStorage();
      const app1 = await backend.app();
      const app2 = await buildApp({ storage: storage2, dashboardDir: null });
      try {
        const url1 = await listen(app1);
        const url2 = await listen(app2);
        const user = await signUp(app1);
        // Count the announcements on the channel: one NOTIFY per batch, not per event.
        const spy = new pg.Client({ connectionString: (postgres as { url: string }).url });
        await spy.connect();
        const notices: string[] = [];
        spy.on('notification', (message) => notices.push(message.payload ?? ''));
        await spy.query(`LISTEN "appdefender_events_${backend.location.schema}"`);
        const on1 = await connectSse(`${url1}/api/v1/events/stream`, bearer(user.apiToken));
        const on2 = await connectSse(`${url2}/api/v1/events/stream`, bearer(user.apiToken));
        const viaInstance1 = Array.from({ length: 3 }, () => makeEvent());
        const viaInstance2 = Array.from({ length: 2 }, () => makeEvent());
        await postEvents(app1, user.licenseKey, viaInstance1);
        await postEvents(app2, user.licenseKey, viaInstance2);
        const expected = [...viaInstance1, ...viaInstance2].map((e) => e.id).sort();
        await on1.waitFor(5);
        await on2.waitFor(5);
        await sleep(100);
        expect(on1.messages.map((m) => m.id).sort()).toEqual(expected);
        expect(on2.messages.map((m) => m.id).sort()).toEqual(expected);
        expect(notices).toHaveLength(2);
        expect(JSON.parse(notices[0]!)).toMatchObject({
          accountId: user.accountId,
          batchId: expect.any(String),
        });
        await spy.end();
        on1.close();
        on2.close();
      } finally {
        await app2.close();
      }
    } finally {
      await backend.teardown();
    }
  });
});
