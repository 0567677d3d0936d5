import { expect, it } from 'vitest';
import { hashSecret } from '../src/index.js';
import { bearer, callApi, describeBackends, makeEvent, postEvents, signUp } from './helpers.js';

const BASE = Date.parse('2026-11-25T12:00:00Z');
const at = (minutesAgo: number) => new Date(BASE - minutesAgo * 60_000).toISOString();

describeBackends('queries', (backend) => {
  it('lists events newest first with filters and cursor pagination', async () => {
    const app = await backend.app({ now: () => BASE });
    const user = await signUp(app);
    const events = [
      makeEvent({
        time: at(1),
        category: 'network',
        action: 'deny',
        target: 'evil.example:443',
        function: 'orders',
      }),
      makeEvent({
        time: at(2),
        category: 'filesystem',
        operation: 'write',
        target: '/tmp/Report.csv',
        function: 'orders',
      }),
      makeEvent({
        time: at(3),
        category: 'process',
        operation: 'spawn',
        target: '/bin/sh -c id',
        function: 'billing',
        policyGroup: 'strict',
      }),
      makeEvent({ time: at(4), category: 'network', target: 'api.stripe.com:443', function: 'billing' }),
      makeEvent({
        time: at(5),
        category: 'network',
        operation: 'dns',
        target: 'tracker_100%.example',
        function: 'billing',
      }),
    ];
    expect((await postEvents(app, user.licenseKey, events)).json().accepted).toBe(5);
    const get = async (query: string) => {
      const res = await callApi(app, 'GET', `/api/v1/events${query}`, bearer(user.apiToken));
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { events: Array<{ id: string }>; nextCursor: string | null };
    };
    const ids = (list: { events: Array<{ id: string }> }) => list.events.map((e) => e.id);
    const id = (i: number) => events[i]!.id;

    expect(ids(await get(''))).toEqual(events.map((e) => e.id));
    expect(ids(await get('?category=network'))).toEqual([id(0), id(3), id(4)]);
    expect(ids(await get('?action=deny'))).toEqual([id(0)]);
    expect(ids(await get('?function=billing'))).toEqual([id(2), id(3), id(4)]);
    expect(ids(await get('?policyGroup=strict'))).toEqual([id(2)]);
    expect(ids(await get(`?since=${encodeURIComponent(at(3))}`))).toEqual([id(0), id(1), id(2)]);
    expect(ids(await get(`?until=${BASE - 3 * 60_000}`))).toEqual([id(3), id(4)]);
    expect(ids(await get('?q=report'))).toEqual([id(1)]);
    expect(ids(await get('?q=STRIPE'))).toEqual([id(3)]);
    expect(ids(await get('?q=100%25'))).toEqual([id(4)]);
    expect(ids(await get('?q=_'))).toEqual([id(4)]);
    expect(ids(await get('?q=spawn'))).toEqual([id(2)]);
    expect(ids(await get('?category=network&function=billing'))).toEqual([id(3), id(4)]);

    const page1 = await get('?limit=2');
    expect(ids(page1)).toEqual([id(0), id(1)]);
    const page2 = await get(`?limit=2&cursor=${page1.nextCursor}`);
    expect(ids(page2)).toEqual([id(2), id(3)]);
    const page3 = await get(`?limit=2&cursor=${page2.nextCursor}`);
    expect(ids(page3)).toEqual([id(4)]);
    expect(page3.nextCursor).toBeNull();
  });

  it('pages correctly through events that share the same time', async () => {
    const app = await backend.app({ now: () => BASE });
    const user = await signUp(app);
    const same = Array.from({ length: 7 }, () => makeEvent({ time: at(10) }));
    await postEvents(app, user.licenseKey, same);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await callApi(
        app,
        'GET',
        `/api/v1/events?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        bearer(user.apiToken),
      );
      const body = res.json() as { events: Array<{ id: string }>; nextCursor: string | null };
      seen.push(...body.events.map((e) => e.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(same.map((e) => e.id).sort());
  });

  it('refuses bad query parameters with a 400 naming the parameter', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const cases: Array<[string, string]> = [
      ['?category=gpu', 'querystring.category'],
      ['?action=grant', 'querystring.action'],
      ['?limit=0', 'querystring.limit'],
      ['?limit=5000', 'querystring.limit'],
      ['?limit=ten', 'querystring.limit'],
      ['?since=yesterday', 'query.since'],
      ['?cursor=bm9wZQ', 'query.cursor'],
      ['?since=2026-11-25T00:00:00Z&until=2026-11-24T00:00:00Z', 'query.until'],
      ['?bogus=1', 'querystring.bogus'],
    ];
    for (const [query, field] of cases) {
      const res = await callApi(app, 'GET', `/api/v1/events${query}`, bearer(user.apiToken));
      expect(res.statusCode, query).toBe(400);
      expect(
        res.json().error.details.map((d: { field: string }) => d.field),
        query,
      ).toContain(field);
    }
    const stats = await callApi(app, 'GET', '/api/v1/events/stats?bucket=1m&since=0', bearer(user.apiToken));
    expect(stats.statusCode).toBe(400);
    expect(stats.json().error.details[0].field).toBe('query.bucket');
  });

  it('counts events per category, action, function and time bucket', async () => {
    const app = await backend.app({ now: () => BASE });
    const user = await signUp(app);
    await postEvents(app, user.licenseKey, [
      makeEvent({ time: at(10), category: 'network', action: 'deny', function: 'orders' }),
      makeEvent({ time: at(70), category: 'network', action: 'observe', function: 'orders' }),
      makeEvent({ time: at(75), category: 'filesystem', action: 'observe', function: 'billing' }),
      makeEvent({ time: at(60 * 30), category: 'process', action: 'observe', function: 'billing' }),
    ]);
    const res = await callApi(
      app,
      'GET',
      `/api/v1/events/stats?since=${encodeURIComponent(at(180))}&bucket=1h`,
      bearer(user.apiToken),
    );
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      since: at(180),
      until: new Date(BASE).toISOString(),
      bucketMs: 3_600_000,
      total: 3,
      byCategory: { network: 2, filesystem: 1, process: 0 },
      byAction: { observe: 2, deny: 1 },
    });
    expect(body.byFunction).toEqual([
      { function: 'orders', total: 2, observe: 1, deny: 1 },
      { function: 'billing', total: 1, observe: 1, deny: 0 },
    ]);
    expect(body.timeline).toEqual([
      { start: at(180), total: 0, observe: 0, deny: 0 },
      { start: at(120), total: 2, observe: 2, deny: 0 },
      { start: at(60), total: 1, observe: 0, deny: 1 },
    ]);
    const defaults = await callApi(
      app,
      'GET',
      '/api/v1/events/stats?category=process',
      bearer(user.apiToken),
    );
    expect(defaults.json()).toMatchObject({ total: 0, bucketMs: 900_000 });
    expect(defaults.json().timeline).toHaveLength(96);
  });

  it("fetches one event by id, only the account's own (404 otherwise), refusing a malformed id", async () => {
    const app = await backend.app({ now: () => BASE });
    const a = await signUp(app);
    const b = await signUp(app);
    const event = makeEvent({
      time: at(90),
      action: 'deny',
      module: { name: 'axios', version: '1.7.9' },
      stack: ['/var/task/pay.js:18:9 charge'],
      details: { url: 'https://evil.example/x' },
    });
    await postEvents(app, a.licenseKey, [event, makeEvent({ time: at(1) })]);
    const own = await callApi(app, 'GET', `/api/v1/events/${event.id}`, bearer(a.apiToken));
    expect(own.statusCode).toBe(200);
    expect(own.json()).toEqual({ event });
    const viaSession = await app.inject({
      method: 'GET',
      url: `/api/v1/events/${event.id}`,
      headers: { cookie: a.cookie },
    });
    expect(viaSession.json().event.id).toBe(event.id);

    const foreign = await callApi(app, 'GET', `/api/v1/events/${event.id}`, bearer(b.apiToken));
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().error.code).toBe('EVENT_NOT_FOUND');
    expect(foreign.body).not.toContain('evil.example');
    const unknown = await callApi(app, 'GET', `/api/v1/events/${makeEvent().id}`, bearer(a.apiToken));
    expect(unknown.statusCode).toBe(404);
    const malformed = await callApi(app, 'GET', '/api/v1/events/not-an-id', bearer(a.apiToken));
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.details[0].field).toMatch(/id/);
    const anonymous = await app.inject({ method: 'GET', url: `/api/v1/events/${event.id}` });
    expect(anonymous.statusCode).toBe(401);
    // The static routes beside it still answer as before.
    const stats = await callApi(app, 'GET', '/api/v1/events/stats', bearer(a.apiToken));
    expect(stats.json().total).toBe(2);
  });

  it("lists functions with their last 24 h of events by action, and never another account's", async () => {
    const app = await backend.app({ now: () => BASE });
    const a = await signUp(app);
    const b = await signUp(app);
    await callApi(app, 'POST', '/api/v1/agent/functions', bearer(a.licenseKey), {
      functionName: 'orders',
      provider: 'aws',
      runtime: 'nodejs20.x',
      policyGroup: 'strict',
    });
    await postEvents(app, a.licenseKey, [
      makeEvent({ time: at(5), function: 'orders', action: 'deny' }),
      makeEvent({ time: at(6), function: 'orders' }),
      makeEvent({ time: at(60 * 25), function: 'orders' }),
    ]);
    await postEvents(app, b.licenseKey, [makeEvent({ time: at(1), function: 'orders' })]);
    const res = await app.inject({ method: 'GET', url: '/api/v1/functions', headers: bearer(a.apiToken) });
    expect(res.json().functions).toEqual([
      expect.objectContaining({
        functionName: 'orders',
        provider: 'aws',
        runtime: 'nodejs20.x',
        policyGroup: 'strict',
        events24h: { observe: 1, deny: 1, total: 2 },
      }),
    ]);
    const other = await app.inject({ method: 'GET', url: '/api/v1/functions', headers: bearer(b.apiToken) });
    expect(other.json().functions).toEqual([]);
    const bEvents = await app.inject({ method: 'GET', url: '/api/v1/events', headers: bearer(b.apiToken) });
    expect(bEvents.json().events).toHaveLength(1);
    const bStats = await callApi(app, 'GET', '/api/v1/events/stats', bearer(b.apiToken));
    expect(bStats.json().total).toBe(1);
  });

  it('purges events past their plan’s retention in batches (free 7 days, paid 90 days)', async () => {
    let now = BASE;
    const app = await backend.app({ now: () => now, retention: { intervalMs: 3_600_000, batchSize: 3 } });
    const free = await signUp(app);
    const paid = await signUp(app);
    await backend.storage.setAccountPlan(paid.accountId, 'paid');
    const day = 24 * 60;
    const freeOld = Array.from({ length: 7 }, () => makeEvent({ time: at(8 * day) }));
    const freeNew = makeEvent({ time: at(6 * day) });
    const paidOld = makeEvent({ time: at(91 * day) });
    const paidKept = makeEvent({ time: at(30 * day) });
    await postEvents(app, free.licenseKey, [...freeOld, freeNew]);
    await postEvents(app, paid.licenseKey, [paidOld, paidKept]);

    const deleted = await app.retention.runOnce();
    expect(deleted).toBe(8);
    const ids = async (token: string) =>
      (await app.inject({ method: 'GET', url: '/api/v1/events', headers: bearer(token) }))
        .json()
        .events.map((e: { id: string }) => e.id);
    expect(await ids(free.apiToken)).toEqual([freeNew.id]);
    expect(await ids(paid.apiToken)).toEqual([paidKept.id]);

    now += 2 * 24 * 3_600_000;
    expect(await app.retention.runOnce()).toBe(1);
    expect(await ids(free.apiToken)).toEqual([]);
    expect(await ids(paid.apiToken)).toEqual([paidKept.id]);
  });

  it('deletes anonymous temporary tenants (and their events) 7 days after the key expired', async () => {
    let now = BASE;
    const app = await backend.app({ now: () => now });
    const temp = (await app.inject({ method: 'POST', url: '/api/v1/temporary-keys' })).json()
      .licenseKey as string;
    expect((await postEvents(app, temp, [makeEvent({ time: at(1) })])).json().accepted).toBe(1);
    const record = await backend.storage.findLicenseKey(hashSecret(temp));
    expect(record).toBeDefined();
    now += 13 * 24 * 3_600_000;
    await app.retention.runOnce();
    expect(await backend.storage.getAccount(record!.accountId)).toBeDefined();
    now += 2 * 24 * 3_600_000;
    await app.retention.runOnce();
    expect(await backend.storage.getAccount(record!.accountId)).toBeUndefined();
    expect(await backend.storage.findLicenseKey(hashSecret(temp))).toBeUndefined();
    expect(await backend.storage.queryEvents(record!.accountId, {}, { limit: 10 })).toEqual([]);
  });

  it('answers a storage failure with 500 INTERNAL_ERROR and no internals', async () => {
    const failing = new Proxy(backend.storage, {
      get(target, property, receiver) {
        if (property === 'listFunctions') {
          return async () => {
            throw new Error('SQLITE_IOERR: disk I/O error at /secret/path/appdefender.sqlite');
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const app = await backend.app({ storage: failing });
    const user = await signUp(app);
    const res = await app.inject({ method: 'GET', url: '/api/v1/functions', headers: bearer(user.apiToken) });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: 'INTERNAL_ERROR', message: expect.any(String) } });
    expect(res.body).not.toMatch(/SQLITE|secret|at .+:\d+/);
  });
});
