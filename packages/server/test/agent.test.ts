import { gzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { generateSecret } from '../src/index.js';
import { bearer, callApi, describeBackends, makeEvent, postEvents, signUp } from './helpers.js';

describeBackends('agent routes', (backend) => {
  it('serves the policy group with ETag and 304 on If-None-Match; a change bumps the version and the ETag', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    await callApi(app, 'POST', '/api/v1/policy-groups', bearer(user.apiToken), {
      name: 'api',
      network: 'deny',
      allowedDomains: 'stripe',
    });
    const first = await callApi(app, 'GET', '/api/v1/agent/policy?group=api', bearer(user.licenseKey));
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({
      name: 'api',
      description: '',
      network: 'deny',
      filesystem: 'observe',
      process: 'observe',
      terminateOnDeny: false,
      allowCloudProviderTraffic: false,
      allowedDomains: ['stripe'],
      allowedPaths: [],
      allowedCommands: [],
    });
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^".+"$/);
    expect(first.headers['x-policy-version']).toBe('1');

    const cached = await app.inject({
      method: 'GET',
      url: '/api/v1/agent/policy?group=api',
      headers: { ...bearer(user.licenseKey), 'if-none-match': etag },
    });
    expect(cached.statusCode).toBe(304);
    expect(cached.body).toBe('');

    await callApi(app, 'PUT', '/api/v1/policy-groups/api', bearer(user.apiToken), { network: 'observe' });
    const changed = await app.inject({
      method: 'GET',
      url: '/api/v1/agent/policy?group=api',
      headers: { ...bearer(user.licenseKey), 'if-none-match': etag },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
    expect(changed.headers['x-policy-version']).toBe('2');
    expect(changed.json().network).toBe('observe');

    const publicGroup = await callApi(
      app,
      'GET',
      '/api/v1/agent/policy?group=observeAll.ability',
      bearer(user.licenseKey),
    );
    expect(publicGroup.statusCode).toBe(200);
    expect(publicGroup.json()).toMatchObject({
      name: 'observeAll.ability',
      network: 'observe',
      filesystem: 'observe',
      process: 'observe',
    });

    const missing = await callApi(app, 'GET', '/api/v1/agent/policy?group=nope', bearer(user.licenseKey));
    expect(missing.statusCode).toBe(404);
    const noGroup = await callApi(app, 'GET', '/api/v1/agent/policy', bearer(user.licenseKey));
    expect(noGroup.statusCode).toBe(400);
    expect(noGroup.json().error.details[0].field).toBe('querystring.group');
  });

  it('rejects bad license keys: missing, mistyped (checksum), unknown, api token instead, expired temporary', async () => {
    let now = Date.parse('2026-11-25T00:00:00Z');
    const app = await backend.app({ now: () => now });
    const user = await signUp(app);
    const url = '/api/v1/agent/policy?group=observeAll.ability';
    expect((await app.inject({ method: 'GET', url })).statusCode).toBe(401);
    const typo = user.licenseKey.slice(0, -1) + (user.licenseKey.endsWith('A') ? 'B' : 'A');
    const mistyped = await app.inject({ method: 'GET', url, headers: bearer(typo) });
    expect(mistyped.statusCode).toBe(401);
    expect(mistyped.json().error.code).toBe('MALFORMED_CREDENTIAL');
    const unknown = await app.inject({
      method: 'GET',
      url,
      headers: bearer(generateSecret('liveLicenseKey')),
    });
    expect(unknown.json().error.code).toBe('UNKNOWN_CREDENTIAL');
    const token = await app.inject({ method: 'GET', url, headers: bearer(user.apiToken) });
    expect(token.statusCode).toBe(403);
    expect(
      (await app.inject({ method: 'GET', url, headers: { authorization: 'Basic abc' } })).statusCode,
    ).toBe(401);

    const temp = (await app.inject({ method: 'POST', url: '/api/v1/temporary-keys' })).json()
      .licenseKey as string;
    expect((await app.inject({ method: 'GET', url, headers: bearer(temp) })).statusCode).toBe(200);
    now += 7 * 24 * 3600_000 + 1;
    const expired = await app.inject({ method: 'GET', url, headers: bearer(temp) });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.code).toBe('LICENSE_KEY_EXPIRED');
  });

  it('refuses a mistyped key without any database lookup', async () => {
    const lookups: string[] = [];
    const counting = new Proxy(backend.storage, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          lookups.push(String(property));
          return value.apply(target, args);
        };
      },
    });
    const app = await backend.app({ storage: counting });
    const user = await signUp(app);
    lookups.length = 0;
    const key = user.licenseKey;
    const typo = key.slice(0, 12) + (key[12] === 'x' ? 'y' : 'x') + key.slice(13);
    const res = await callApi(app, 'GET', '/api/v1/agent/policy?group=observeAll.ability', bearer(typo));
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('MALFORMED_CREDENTIAL');
    expect(lookups).toEqual([]);
    await callApi(app, 'GET', '/api/v1/agent/policy?group=observeAll.ability', bearer(key));
    // The first use of a key is also recorded (later ones at most once a minute).
    expect(lookups).toEqual(['findLicenseKey', 'markLicenseKeyUsed']);
    lookups.length = 0;
    await callApi(app, 'GET', '/api/v1/agent/policy?group=observeAll.ability', bearer(key));
    expect(lookups).toEqual(['findLicenseKey']);
  });

  it('limits temporary keys to observeAll.ability, while they may report functions and events', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    await callApi(app, 'POST', '/api/v1/policy-groups', bearer(user.apiToken), { name: 'mine' });
    const temp = (await app.inject({ method: 'POST', url: '/api/v1/temporary-keys' })).json()
      .licenseKey as string;
    const other = await callApi(app, 'GET', '/api/v1/agent/policy?group=mine', bearer(temp));
    expect(other.statusCode).toBe(403);
    expect(other.json().error.code).toBe('TEMPORARY_KEY_LIMITED');
    const fn = await callApi(app, 'POST', '/api/v1/agent/functions', bearer(temp), { functionName: 'demo' });
    expect(fn.statusCode).toBe(200);
    const events = await postEvents(app, temp, [makeEvent()]);
    expect(events.json()).toMatchObject({ accepted: 1 });
    // A temporary key has no api token or session: it cannot use the account routes at all.
    expect(
      (await app.inject({ method: 'GET', url: '/api/v1/events', headers: bearer(temp) })).statusCode,
    ).toBe(403);
    // …and what it reported lands in its own anonymous tenant, not in anyone else's.
    const userEvents = await callApi(app, 'GET', '/api/v1/events', bearer(user.apiToken));
    expect(userEvents.json().events).toEqual([]);
  });

  it('registers functions by upsert: first/last seen, cold starts, latest fields', async () => {
    let now = Date.parse('2026-11-25T10:00:00Z');
    const app = await backend.app({ now: () => now });
    const user = await signUp(app);
    const report = {
      provider: 'aws',
      region: 'us-east-1',
      accountId: '123456789012',
      runtime: 'nodejs20.x',
      architecture: 'x86_64',
      memoryMb: 512,
      functionName: 'orders-api',
      functionVersion: '$LATEST',
      policyGroup: 'observeAll.ability',
      agentVersion: '0.1.0',
      coldStart: true,
    };
    const first = await callApi(app, 'POST', '/api/v1/agent/functions', bearer(user.licenseKey), report);
    expect(first.statusCode).toBe(200);
    const { coldStart: _coldStart, ...reported } = report;
    expect(first.json().function).toMatchObject({
      ...reported,
      coldStarts: 1,
      firstSeen: '2026-11-25T10:00:00.000Z',
    });
    expect(first.json().function).not.toHaveProperty('coldStart');
    now += 60_000;
    await callApi(app, 'POST', '/api/v1/agent/functions', bearer(user.licenseKey), {
      ...report,
      runtime: 'nodejs22.x',
      functionVersion: '7',
    });
    now += 60_000;
    const third = await callApi(app, 'POST', '/api/v1/agent/functions', bearer(user.licenseKey), {
      ...report,
      runtime: 'nodejs22.x',
      functionVersion: '7',
      coldStart: false,
    });
    expect(third.json().function).toMatchObject({
      runtime: 'nodejs22.x',
      functionVersion: '7',
      coldStarts: 2,
      firstSeen: '2026-11-25T10:00:00.000Z',
      lastSeen: '2026-11-25T10:02:00.000Z',
    });
    const list = await callApi(app, 'GET', '/api/v1/functions', bearer(user.apiToken));
    expect(list.json().functions).toHaveLength(1);

    const bad = await callApi(app, 'POST', '/api/v1/agent/functions', bearer(user.licenseKey), {
      functionName: 'x',
      memoryMb: 'lots',
      surprise: 1,
    });
    expect(bad.statusCode).toBe(400);
    const fields = bad.json().error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['memoryMb', 'surprise']));
    const noName = await callApi(app, 'POST', '/api/v1/agent/functions', bearer(user.licenseKey), {});
    expect(noName.json().error.details[0].field).toBe('functionName');
  });

  it('ingests a batch idempotently by event id, with per-event results', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const a = makeEvent();
    const b = makeEvent({ category: 'filesystem', operation: 'write', target: '/tmp/x', action: 'deny' });
    const invalid = { ...makeEvent(), category: 'gpu' };
    const first = await postEvents(app, user.licenseKey, [a, b, a, invalid, 'not an event']);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({
      accepted: 2,
      duplicates: 1,
      rejected: 2,
      results: [
        { id: a.id, status: 'accepted' },
        { id: b.id, status: 'accepted' },
        { id: a.id, status: 'duplicate' },
        { id: invalid.id, status: 'rejected', error: expect.stringContaining('category') },
        { id: null, status: 'rejected', error: expect.any(String) },
      ],
    });
    const second = await postEvents(app, user.licenseKey, [a, b]);
    expect(second.json()).toMatchObject({ accepted: 0, duplicates: 2, rejected: 0 });
    const list = await app.inject({ method: 'GET', url: '/api/v1/events', headers: bearer(user.apiToken) });
    expect(
      list
        .json()
        .events.map((e: { id: string }) => e.id)
        .sort(),
    ).toEqual([a.id, b.id].sort());

    // The same event id in another account is that account's own event.
    const other = await signUp(app);
    expect((await postEvents(app, other.licenseKey, [a])).json().accepted).toBe(1);
  });

  it('counts the dropped events a batch reports on its function, shown on GET /api/v1/functions', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const fn = {
      provider: 'aws',
      region: 'eu-west-1',
      accountId: '123456789012',
      functionName: 'orders-api',
    };
    const post = (payload: unknown) =>
      callApi(app, 'POST', '/api/v1/agent/events', bearer(user.licenseKey), payload);
    const listed = async () =>
      (await callApi(app, 'GET', '/api/v1/functions', bearer(user.apiToken))).json().functions as Array<
        Record<string, unknown>
      >;

    // before the function's report: the count creates it, the report then fills in its details
    expect((await post({ events: [makeEvent()], droppedEvents: 3, function: fn })).statusCode).toBe(200);
    expect(await listed()).toEqual([expect.objectContaining({ ...fn, droppedEvents: 3, coldStarts: 0 })]);
    await callApi(app, 'POST', '/api/v1/agent/functions', bearer(user.licenseKey), {
      ...fn,
      runtime: 'nodejs20.x',
    });
    expect((await post({ events: [makeEvent()], droppedEvents: 4, function: fn })).statusCode).toBe(200);
    expect((await post({ events: [makeEvent()], droppedEvents: 0 })).statusCode).toBe(200);
    expect((await post({ events: [makeEvent()] })).statusCode).toBe(200);
    expect(await listed()).toEqual([
      expect.objectContaining({ ...fn, runtime: 'nodejs20.x', droppedEvents: 7, coldStarts: 1 }),
    ]);

    // another function of the same name elsewhere keeps its own count
    await post({ events: [makeEvent()], droppedEvents: 1, function: { ...fn, region: 'us-east-1' } });
    const counts = (await listed()).map((row) => [row.region, row.droppedEvents]);
    expect(counts).toEqual(
      expect.arrayContaining([
        ['eu-west-1', 7],
        ['us-east-1', 1],
      ]),
    );

    // bad counts and a count with nothing to count it on are refused, storing nothing
    for (const body of [
      { events: [makeEvent()], droppedEvents: -1, function: fn },
      { events: [makeEvent()], droppedEvents: 1.5, function: fn },
      { events: [makeEvent()], droppedEvents: 'many', function: fn },
      { events: [makeEvent()], droppedEvents: 2 },
      { events: [makeEvent()], droppedEvents: 2, function: { region: 'eu-west-1' } },
    ]) {
      const refused = await post(body);
      expect(refused.statusCode, JSON.stringify(body)).toBe(400);
      expect(refused.json().error.code).toBe('VALIDATION_FAILED');
    }
    const missing = await post({ events: [makeEvent()], droppedEvents: 2 });
    expect(missing.json().error.details[0].field).toBe('function');
    expect((await listed()).find((row) => row.region === 'eu-west-1')?.droppedEvents).toBe(7);
  });

  it('accepts gzip bodies and refuses broken gzip, unknown encodings, oversize and overlong batches', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const events = Array.from({ length: 20 }, () => makeEvent());
    const gz = await app.inject({
      method: 'POST',
      url: '/api/v1/agent/events',
      headers: { ...bearer(user.licenseKey), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync(JSON.stringify({ events })),
    });
    expect(gz.statusCode).toBe(200);
    expect(gz.json().accepted).toBe(20);

    const broken = await app.inject({
      method: 'POST',
      url: '/api/v1/agent/events',
      headers: { ...bearer(user.licenseKey), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: Buffer.from('definitely not gzip'),
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().error.code).toBe('INVALID_GZIP');

    const brotli = await app.inject({
      method: 'POST',
      url: '/api/v1/agent/events',
      headers: { ...bearer(user.licenseKey), 'content-type': 'application/json', 'content-encoding': 'br' },
      payload: Buffer.from('{}'),
    });
    expect(brotli.statusCode).toBe(415);

    // A gzip bomb: 2 MiB of JSON whitespace compresses to a few KiB but exceeds 1 MiB decoded.
    const bomb = gzipSync(
      Buffer.concat([Buffer.from('{"events":['), Buffer.alloc(2 * 1024 * 1024, 0x20), Buffer.from(']}')]),
    );
    expect(bomb.length).toBeLessThan(64 * 1024);
    const bombed = await app.inject({
      method: 'POST',
      url: '/api/v1/agent/events',
      headers: { ...bearer(user.licenseKey), 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: bomb,
    });
    expect(bombed.statusCode).toBe(413);
    expect(bombed.json().error.code).toBe('PAYLOAD_TOO_LARGE');

    const tooMany = await postEvents(
      app,
      user.licenseKey,
      Array.from({ length: 1001 }, () => ({})),
    );
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().error.details[0]).toMatchObject({
      field: 'events',
      message: expect.stringContaining('1000'),
    });

    const empty = await postEvents(app, user.licenseKey, []);
    expect(empty.statusCode).toBe(400);
    const notArray = await callApi(app, 'POST', '/api/v1/agent/events', bearer(user.licenseKey), {
      events: 'x',
    });
    expect(notArray.statusCode).toBe(400);
    const list = await callApi(app, 'GET', '/api/v1/events?limit=1000', bearer(user.apiToken));
    expect(list.json().events).toHaveLength(20);
  });

  it('answers 429 with Retry-After when a key exceeds its rate, and other keys are unaffected', async () => {
    let now = 1_000_000;
    const app = await backend.app({
      now: () => now,
      rateLimit: { eventsPerSecond: 1000, burstEvents: 1000 },
    });
    const a = await signUp(app);
    const b = await signUp(app);
    const batch = () => Array.from({ length: 600 }, () => makeEvent());
    expect((await postEvents(app, a.licenseKey, batch())).statusCode).toBe(200);
    const limited = await postEvents(app, a.licenseKey, batch());
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.json().error.code).toBe('RATE_LIMITED');
    expect((await postEvents(app, b.licenseKey, batch())).statusCode).toBe(200);
    now += 1000;
    expect((await postEvents(app, a.licenseKey, batch())).statusCode).toBe(200);
  });

  it("isolates tenants: B's license key cannot fetch A's group", async () => {
    const app = await backend.app();
    const a = await signUp(app);
    const b = await signUp(app);
    await callApi(app, 'POST', '/api/v1/policy-groups', bearer(a.apiToken), { name: 'a-secret' });
    expect(
      (await callApi(app, 'GET', '/api/v1/agent/policy?group=a-secret', bearer(a.licenseKey))).statusCode,
    ).toBe(200);
    const res = await callApi(app, 'GET', '/api/v1/agent/policy?group=a-secret', bearer(b.licenseKey));
    expect(res.statusCode).toBe(404);
  });
});
