import { describe, expect, it } from 'vitest';
import { generateSecret, parseSecret } from '../src/index.js';
import { bearer, callApi, describeBackends, sessionCookieOf, signUp } from './helpers.js';

describeBackends('accounts', (backend) => {
  it('signs up: 201 with account, typed license key and api token (shown once), session cookie', async () => {
    const app = await backend.app();
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/signup',
      payload: { email: 'Alice@Example.com', password: 'long enough password' },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.account).toMatchObject({ email: 'alice@example.com', plan: 'free' });
    expect(body.licenseKey).toMatch(/^adk_live_[0-9A-Za-z]{38}$/);
    expect(body.apiToken).toMatch(/^adt_[0-9A-Za-z]{38}$/);
    expect(parseSecret(body.licenseKey)).toEqual({ ok: true, kind: 'liveLicenseKey' });
    const cookie = res.cookies.find((c) => c.name === 'ad_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    // Stored only as hashes: the plaintext appears nowhere in the key table.
    const found = await backend.storage.findLicenseKey(body.licenseKey);
    expect(found).toBeUndefined();
  });

  it('refuses a second sign-up with the same email (409) and bad emails or short passwords (400)', async () => {
    const app = await backend.app();
    const first = await signUp(app);
    const again = await app.inject({
      method: 'POST',
      url: '/api/v1/signup',
      payload: { email: first.email.toUpperCase(), password: 'another password' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('EMAIL_TAKEN');

    const badEmail = await app.inject({
      method: 'POST',
      url: '/api/v1/signup',
      payload: { email: 'nope', password: 'long enough 1' },
    });
    expect(badEmail.statusCode).toBe(400);
    expect(badEmail.json().error.details[0].field).toBe('email');

    const shortPassword = await app.inject({
      method: 'POST',
      url: '/api/v1/signup',
      payload: { email: 'short@example.com', password: 'short' },
    });
    expect(shortPassword.statusCode).toBe(400);
    expect(shortPassword.json().error.details[0].field).toBe('password');

    const missing = await app.inject({
      method: 'POST',
      url: '/api/v1/signup',
      payload: { email: 'x@example.com' },
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(missing.json().error.details).toContainEqual({ field: 'password', message: expect.any(String) });

    const notJson = await app.inject({
      method: 'POST',
      url: '/api/v1/signup',
      headers: { 'content-type': 'application/json' },
      payload: '{"email":',
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error.code).toBe('INVALID_JSON');
    expect(notJson.body).not.toMatch(/at .*\.js/);
    expect(await backend.storage.findAccountByEmail('short@example.com')).toBeUndefined();
  });

  it('refuses other media types (415) and oversized bodies (413) before touching storage', async () => {
    const app = await backend.app();
    const text = await app.inject({
      method: 'POST',
      url: '/api/v1/signup',
      headers: { 'content-type': 'text/plain' },
      payload: 'email=a@example.com',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const huge = await app.inject({
      method: 'POST',
      url: '/api/v1/signup',
      payload: { email: 'big@example.com', password: 'x'.repeat(300 * 1024) },
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await backend.storage.findAccountByEmail('big@example.com')).toBeUndefined();
    const unknownField = await app.inject({
      method: 'POST',
      url: '/api/v1/signup',
      payload: { email: 'extra@example.com', password: 'long enough 1', plan: 'paid' },
    });
    expect(unknownField.statusCode).toBe(400);
    expect(unknownField.json().error.details).toContainEqual({
      field: 'plan',
      message: 'is not a known field',
    });
  });

  it('logs in with the password, rejects a wrong one, and logs out', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const wrong = await app.inject({
      method: 'POST',
      url: '/api/v1/login',
      payload: { email: user.email, password: 'wrong password' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe('INVALID_CREDENTIALS');
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/v1/login',
      payload: { email: 'nobody@example.com', password: 'whatever123' },
    });
    expect(unknown.statusCode).toBe(401);

    const login = await app.inject({
      method: 'POST',
      url: '/api/v1/login',
      payload: { email: user.email, password: user.password },
    });
    expect(login.statusCode).toBe(200);
    expect(login.json().account.id).toBe(user.accountId);
    const cookie = sessionCookieOf(login);

    const me = await app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({
      account: { id: user.accountId, email: user.email, plan: 'free', createdAt: expect.any(String) },
      plan: {
        name: 'free',
        description: expect.any(String),
        retentionDays: 7,
        features: { allowCloudProviderTraffic: false },
      },
    });

    const logout = await app.inject({
      method: 'POST',
      url: '/api/v1/logout',
      headers: { cookie, origin: 'http://localhost:80', host: 'localhost:80' },
    });
    expect(logout.statusCode).toBe(204);
    const after = await app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie } });
    expect(after.statusCode).toBe(401);
    expect(after.json().error.code).toBe('SESSION_EXPIRED');
  });

  it('authenticates with the api token; rejects mistyped, unknown and wrong-kind credentials before or at lookup', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const me = await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(user.apiToken) });
    expect(me.statusCode).toBe(200);

    const typo = `${user.apiToken.slice(0, 10)}${user.apiToken[10] === 'a' ? 'b' : 'a'}${user.apiToken.slice(11)}`;
    const mistyped = await app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(typo) });
    expect(mistyped.statusCode).toBe(401);
    expect(mistyped.json().error).toMatchObject({
      code: 'MALFORMED_CREDENTIAL',
      message: expect.stringContaining('checksum'),
    });

    const unknown = await app.inject({
      method: 'GET',
      url: '/api/v1/me',
      headers: bearer(generateSecret('apiToken')),
    });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json().error.code).toBe('UNKNOWN_CREDENTIAL');

    const licenseKey = await callApi(app, 'GET', '/api/v1/me', bearer(user.licenseKey));
    expect(licenseKey.statusCode).toBe(403);
    expect(licenseKey.json().error.code).toBe('WRONG_CREDENTIAL');

    const none = await app.inject({ method: 'GET', url: '/api/v1/me' });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('AUTHENTICATION_REQUIRED');

    const created = await callApi(app, 'POST', '/api/v1/api-tokens', bearer(user.apiToken), { name: 'ci' });
    expect(created.statusCode).toBe(201);
    const second = await app.inject({
      method: 'GET',
      url: '/api/v1/me',
      headers: bearer(created.json().apiToken),
    });
    expect(second.json().account.id).toBe(user.accountId);
  });

  it('refuses cookie-authenticated changes that are not same-origin (CSRF), allows same-origin ones', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const group = { name: 'csrf-check', network: 'deny' };
    const crossSite = await app.inject({
      method: 'POST',
      url: '/api/v1/policy-groups',
      headers: { cookie: user.cookie, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
      payload: group,
    });
    expect(crossSite.statusCode).toBe(403);
    expect(crossSite.json().error.code).toBe('CSRF_REJECTED');

    const foreignOrigin = await app.inject({
      method: 'POST',
      url: '/api/v1/policy-groups',
      headers: { cookie: user.cookie, origin: 'https://evil.example', host: 'localhost:8080' },
      payload: group,
    });
    expect(foreignOrigin.statusCode).toBe(403);

    const noHeaders = await app.inject({
      method: 'POST',
      url: '/api/v1/policy-groups',
      headers: { cookie: user.cookie },
      payload: group,
    });
    expect(noHeaders.statusCode).toBe(403);
    expect(await backend.storage.getPolicyGroup(user.accountId, 'csrf-check')).toBeUndefined();

    const sameOrigin = await app.inject({
      method: 'POST',
      url: '/api/v1/policy-groups',
      headers: { cookie: user.cookie, 'sec-fetch-site': 'same-origin' },
      payload: group,
    });
    expect(sameOrigin.statusCode).toBe(201);

    const crossSiteLogin = await app.inject({
      method: 'POST',
      url: '/api/v1/login',
      headers: { 'sec-fetch-site': 'cross-site' },
      payload: { email: user.email, password: user.password },
    });
    expect(crossSiteLogin.statusCode).toBe(403);
  });

  it('gives a temporary license key without an account, expiring after the documented TTL', async () => {
    const now = Date.parse('2026-11-25T12:00:00Z');
    const app = await backend.app({ now: () => now });
    const res = await app.inject({ method: 'POST', url: '/api/v1/temporary-keys' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      licenseKey: expect.stringMatching(/^adk_temp_/),
      expiresAt: '2026-12-02T12:00:00.000Z',
      policyGroup: 'observeAll.ability',
    });
  });

  it('rate-limits temporary keys per client address (429 with Retry-After)', async () => {
    const app = await backend.app({ temporaryKeyRateLimit: { perHour: 2, burst: 2 } });
    for (let i = 0; i < 2; i++) {
      expect((await app.inject({ method: 'POST', url: '/api/v1/temporary-keys' })).statusCode).toBe(201);
    }
    const limited = await app.inject({ method: 'POST', url: '/api/v1/temporary-keys' });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json().error.code).toBe('RATE_LIMITED');
  });
});

describe('secrets', () => {
  it('rejects a key whose checksum does not match without any lookup', () => {
    const key = generateSecret('liveLicenseKey');
    expect(parseSecret(key)).toEqual({ ok: true, kind: 'liveLicenseKey' });
    const last = key.at(-1) === '0' ? '1' : '0';
    expect(parseSecret(key.slice(0, -1) + last)).toEqual({ ok: false, reason: 'checksum-mismatch' });
    expect(parseSecret(key.slice(0, -2))).toEqual({ ok: false, reason: 'malformed' });
    expect(parseSecret(`xyz_${key.slice(9)}`)).toEqual({ ok: false, reason: 'unknown-prefix' });
  });
});
