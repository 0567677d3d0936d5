import { expect, it } from 'vitest';
import { generateSecret } from '../src/index.js';
import { bearer, callApi, describeBackends, signUp } from './helpers.js';

const sameOrigin = { 'sec-fetch-site': 'same-origin' };

describeBackends('license keys and api tokens', (backend) => {
  it('lists the sign-up key without its secret, creates another (shown once), revokes it: agents then get 401', async () => {
    const app = await backend.app();
    const user = await signUp(app);

    const listed = await callApi(app, 'GET', '/api/v1/license-keys', bearer(user.apiToken));
    expect(listed.statusCode).toBe(200);
    expect(listed.json()).toEqual({
      licenseKeys: [
        {
          id: expect.any(String),
          label: 'default',
          prefix: 'adk_live_',
          last4: user.licenseKey.slice(-4),
          createdAt: expect.any(String),
          lastUsedAt: null,
        },
      ],
    });
    expect(listed.body).not.toContain(user.licenseKey);

    const created = await callApi(app, 'POST', '/api/v1/license-keys', bearer(user.apiToken), {
      label: '  ci pipeline ',
    });
    expect(created.statusCode).toBe(201);
    const { licenseKey, key } = created.json();
    expect(licenseKey).toMatch(/^adk_live_[0-9A-Za-z]{38}$/);
    expect(key).toMatchObject({ label: 'ci pipeline', last4: licenseKey.slice(-4), lastUsedAt: null });

    // The new key works for agents, and its use is recorded.
    const fetchPolicy = () =>
      callApi(app, 'GET', '/api/v1/agent/policy?group=observeAll.ability', bearer(licenseKey));
    expect((await fetchPolicy()).statusCode).toBe(200);
    const afterUse = (
      await app.inject({ method: 'GET', url: '/api/v1/license-keys', headers: bearer(user.apiToken) })
    ).json().licenseKeys;
    expect(afterUse.map((k: { id: string }) => k.id)).toEqual([listed.json().licenseKeys[0].id, key.id]);
    expect(afterUse[1].lastUsedAt).toEqual(expect.any(String));
    expect(afterUse[0].lastUsedAt).toBeNull();
    // The secret is never listed again.
    expect(JSON.stringify(afterUse)).not.toContain(licenseKey);

    const revoked = await callApi(app, 'DELETE', `/api/v1/license-keys/${key.id}`, bearer(user.apiToken));
    expect(revoked.statusCode).toBe(204);
    const refused = await fetchPolicy();
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error.code).toBe('UNKNOWN_CREDENTIAL');
    const events = await callApi(app, 'POST', '/api/v1/agent/events', bearer(licenseKey), { events: [] });
    expect(events.statusCode).toBe(401);
    // The other key still works; revoking again is 404.
    const original = await callApi(
      app,
      'GET',
      '/api/v1/agent/policy?group=observeAll.ability',
      bearer(user.licenseKey),
    );
    expect(original.statusCode).toBe(200);
    const again = await callApi(app, 'DELETE', `/api/v1/license-keys/${key.id}`, bearer(user.apiToken));
    expect(again.statusCode).toBe(404);
    expect(again.json().error.code).toBe('LICENSE_KEY_NOT_FOUND');
  });

  it('records lastUsedAt of license keys at most once a minute (agents authenticate every batch)', async () => {
    let now = Date.parse('2026-11-25T12:00:00Z');
    const app = await backend.app({ now: () => now });
    const user = await signUp(app);
    const fetchPolicy = () =>
      callApi(app, 'GET', '/api/v1/agent/policy?group=observeAll.ability', bearer(user.licenseKey));
    const lastUsed = async () =>
      (
        await app.inject({ method: 'GET', url: '/api/v1/license-keys', headers: bearer(user.apiToken) })
      ).json().licenseKeys[0].lastUsedAt;
    await fetchPolicy();
    expect(await lastUsed()).toBe('2026-11-25T12:00:00.000Z');
    now += 30_000;
    await fetchPolicy();
    expect(await lastUsed()).toBe('2026-11-25T12:00:00.000Z');
    now += 30_000;
    await fetchPolicy();
    expect(await lastUsed()).toBe('2026-11-25T12:01:00.000Z');
  });

  it('allows revoking the last license key; a new one can be made at any time', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const [only] = (
      await app.inject({ method: 'GET', url: '/api/v1/license-keys', headers: bearer(user.apiToken) })
    ).json().licenseKeys;
    const revoked = await app.inject({
      method: 'DELETE',
      url: `/api/v1/license-keys/${only.id}`,
      headers: { cookie: user.cookie, ...sameOrigin },
    });
    expect(revoked.statusCode).toBe(204);
    const list = await app.inject({
      method: 'GET',
      url: '/api/v1/license-keys',
      headers: { cookie: user.cookie },
    });
    expect(list.json()).toEqual({ licenseKeys: [] });
    const agent = await callApi(app, 'POST', '/api/v1/agent/functions', bearer(user.licenseKey), {
      functionName: 'orders-api',
    });
    expect(agent.statusCode).toBe(401);
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/license-keys',
      headers: { cookie: user.cookie, ...sameOrigin },
      payload: {},
    });
    expect(created.statusCode).toBe(201);
    expect(created.json().key.label).toBeNull();
  });

  it('lists, creates and revokes api tokens; a revoked token (even the caller’s own) gets 401 at once', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const created = await callApi(app, 'POST', '/api/v1/api-tokens', bearer(user.apiToken), {
      name: 'deploy',
    });
    expect(created.statusCode).toBe(201);
    const { apiToken, token } = created.json();
    expect(apiToken).toMatch(/^adt_/);
    expect(token).toMatchObject({
      name: 'deploy',
      prefix: 'adt_',
      last4: apiToken.slice(-4),
      lastUsedAt: null,
    });

    const listed = await app.inject({ method: 'GET', url: '/api/v1/api-tokens', headers: bearer(apiToken) });
    expect(listed.statusCode).toBe(200);
    const tokens = listed.json().apiTokens;
    expect(tokens.map((t: { name: string; last4: string }) => [t.name, t.last4])).toEqual([
      ['default', user.apiToken.slice(-4)],
      ['deploy', apiToken.slice(-4)],
    ]);
    // The listing call itself used the new token.
    expect(tokens[1].lastUsedAt).toEqual(expect.any(String));
    expect(listed.body).not.toContain(apiToken);
    expect(listed.body).not.toContain(user.apiToken);

    // A token revokes itself: the answer is 204 and the token is dead from the next call.
    const self = await callApi(app, 'DELETE', `/api/v1/api-tokens/${token.id}`, bearer(apiToken));
    expect(self.statusCode).toBe(204);
    const dead = await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(apiToken) });
    expect(dead.statusCode).toBe(401);
    expect(dead.json().error.code).toBe('UNKNOWN_CREDENTIAL');
    const missing = await callApi(app, 'DELETE', `/api/v1/api-tokens/${token.id}`, bearer(user.apiToken));
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('API_TOKEN_NOT_FOUND');
  });

  it('refuses bad input, license keys as credentials and cross-site cookie requests, changing nothing', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const count = async () =>
      (
        await app.inject({ method: 'GET', url: '/api/v1/license-keys', headers: bearer(user.apiToken) })
      ).json().licenseKeys.length;

    const unknownField = await callApi(app, 'POST', '/api/v1/license-keys', bearer(user.apiToken), {
      label: 'x',
      kind: 'temporary',
    });
    expect(unknownField.statusCode).toBe(400);
    expect(unknownField.json().error.details).toContainEqual({
      field: 'kind',
      message: 'is not a known field',
    });
    const longLabel = await callApi(app, 'POST', '/api/v1/license-keys', bearer(user.apiToken), {
      label: 'x'.repeat(101),
    });
    expect(longLabel.statusCode).toBe(400);
    expect(longLabel.json().error.details[0].field).toBe('label');
    const wrongType = await callApi(app, 'POST', '/api/v1/api-tokens', bearer(user.apiToken), { name: 7 });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json().error.details[0].field).toBe('name');

    const withLicenseKey = await callApi(app, 'GET', '/api/v1/license-keys', bearer(user.licenseKey));
    expect(withLicenseKey.statusCode).toBe(403);
    expect(withLicenseKey.json().error.code).toBe('WRONG_CREDENTIAL');
    const anonymous = await app.inject({ method: 'POST', url: '/api/v1/license-keys', payload: {} });
    expect(anonymous.statusCode).toBe(401);
    const temporary = (await app.inject({ method: 'POST', url: '/api/v1/temporary-keys' })).json().licenseKey;
    const withTemporary = await callApi(app, 'POST', '/api/v1/license-keys', bearer(temporary), {});
    expect(withTemporary.statusCode).toBe(403);

    const [key] = (
      await app.inject({ method: 'GET', url: '/api/v1/license-keys', headers: bearer(user.apiToken) })
    ).json().licenseKeys;
    for (const request of [
      { method: 'POST' as const, url: '/api/v1/license-keys', payload: {} },
      { method: 'DELETE' as const, url: `/api/v1/license-keys/${key.id}` },
      { method: 'POST' as const, url: '/api/v1/api-tokens', payload: {} },
    ]) {
      const crossSite = await app.inject({
        ...request,
        headers: { cookie: user.cookie, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      });
      expect(crossSite.statusCode, `${request.method} ${request.url}`).toBe(403);
      expect(crossSite.json().error.code).toBe('CSRF_REJECTED');
      const noOrigin = await app.inject({ ...request, headers: { cookie: user.cookie } });
      expect(noOrigin.statusCode).toBe(403);
    }
    expect(await count()).toBe(1);
    const tokens = await callApi(app, 'GET', '/api/v1/api-tokens', bearer(user.apiToken));
    expect(tokens.json().apiTokens).toHaveLength(1);
    const stillWorks = await callApi(
      app,
      'GET',
      '/api/v1/agent/policy?group=observeAll.ability',
      bearer(user.licenseKey),
    );
    expect(stillWorks.statusCode).toBe(200);
  });

  it('isolates tenants: B never lists or revokes A’s keys and tokens', async () => {
    const app = await backend.app();
    const a = await signUp(app);
    const b = await signUp(app);
    const aKeys = (
      await app.inject({ method: 'GET', url: '/api/v1/license-keys', headers: bearer(a.apiToken) })
    ).json().licenseKeys;
    const aTokens = (
      await app.inject({ method: 'GET', url: '/api/v1/api-tokens', headers: bearer(a.apiToken) })
    ).json().apiTokens;
    const bKeys = (
      await app.inject({ method: 'GET', url: '/api/v1/license-keys', headers: bearer(b.apiToken) })
    ).json().licenseKeys;
    const bTokens = (
      await app.inject({ method: 'GET', url: '/api/v1/api-tokens', headers: bearer(b.apiToken) })
    ).json().apiTokens;
    expect(bKeys).toHaveLength(1);
    expect(bTokens).toHaveLength(1);
    expect(bKeys[0].id).not.toBe(aKeys[0].id);
    expect(bKeys[0].last4).toBe(b.licenseKey.slice(-4));
    expect(bTokens[0].id).not.toBe(aTokens[0].id);

    const revokeKey = await callApi(app, 'DELETE', `/api/v1/license-keys/${aKeys[0].id}`, bearer(b.apiToken));
    expect(revokeKey.statusCode).toBe(404);
    const revokeToken = await app.inject({
      method: 'DELETE',
      url: `/api/v1/api-tokens/${aTokens[0].id}`,
      headers: { cookie: b.cookie, ...sameOrigin },
    });
    expect(revokeToken.statusCode).toBe(404);
    // A's credentials are untouched.
    expect(
      (await callApi(app, 'GET', '/api/v1/agent/policy?group=observeAll.ability', bearer(a.licenseKey)))
        .statusCode,
    ).toBe(200);
    expect(
      (await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(a.apiToken) })).statusCode,
    ).toBe(200);
    // An id that exists nowhere, and an unknown token, are both refused.
    expect(
      (await app.inject({ method: 'DELETE', url: '/api/v1/license-keys/nope', headers: bearer(a.apiToken) }))
        .statusCode,
    ).toBe(404);
    expect(
      (
        await app.inject({
          method: 'GET',
          url: '/api/v1/license-keys',
          headers: bearer(generateSecret('apiToken')),
        })
      ).statusCode,
    ).toBe(401);
  });
});
