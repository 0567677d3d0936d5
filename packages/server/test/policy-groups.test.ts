import { POLICY_LIMITS, validatePolicyGroup } from '@appdefender/policy';
import { expect, it } from 'vitest';
import { bearer, callApi, describeBackends, signUp } from './helpers.js';

const strict = {
  name: 'payments-strict',
  description: 'payments only talk to stripe',
  network: 'deny',
  filesystem: 'observe',
  process: 'deny',
  terminateOnDeny: false,
  allowCloudProviderTraffic: false,
  allowedDomains: ['stripe', '*.example.com', 'lambda.*'],
  allowedPaths: ['/tmp/cache/'],
  allowedCommands: ['/usr/bin/git'],
};

describeBackends('policy groups', (backend) => {
  it('creates, lists, reads, updates (version bump) and deletes a group', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const auth = bearer(user.apiToken);

    const created = await callApi(app, 'POST', '/api/v1/policy-groups', auth, strict);
    expect(created.statusCode).toBe(201);
    expect(created.json().policyGroup).toMatchObject({
      name: 'payments-strict',
      network: 'deny',
      filesystem: 'observe',
      process: 'deny',
      allowedDomains: ['stripe', '*.example.com', 'lambda.*'],
      version: 1,
      readOnly: false,
    });
    expect(Array.isArray(created.json().warnings)).toBe(true);

    const list = await app.inject({ method: 'GET', url: '/api/v1/policy-groups', headers: auth });
    expect(list.statusCode).toBe(200);
    const names = list.json().policyGroups.map((g: { name: string }) => g.name);
    expect(names).toEqual(['observeAll.ability', 'payments-strict']);
    expect(list.json().policyGroups[0]).toMatchObject({
      readOnly: true,
      network: 'observe',
      filesystem: 'observe',
      process: 'observe',
    });

    const updated = await callApi(app, 'PUT', '/api/v1/policy-groups/payments-strict', auth, {
      ...strict,
      network: 'observe',
      allowedDomains: 'stripe, .example.org',
    });
    expect(updated.statusCode).toBe(200);
    expect(updated.json().policyGroup).toMatchObject({ network: 'observe', version: 2 });
    expect(updated.json().policyGroup.allowedDomains).toHaveLength(2);

    const read = await callApi(app, 'GET', '/api/v1/policy-groups/payments-strict', auth);
    expect(read.json().policyGroup).toMatchObject({ version: 2, network: 'observe' });

    const deleted = await callApi(app, 'DELETE', '/api/v1/policy-groups/payments-strict', auth);
    expect(deleted.statusCode).toBe(204);
    const gone = await callApi(app, 'GET', '/api/v1/policy-groups/payments-strict', auth);
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.code).toBe('POLICY_GROUP_NOT_FOUND');
    const deleteAgain = await callApi(app, 'DELETE', '/api/v1/policy-groups/payments-strict', auth);
    expect(deleteAgain.statusCode).toBe(404);
    const updateMissing = await callApi(app, 'PUT', '/api/v1/policy-groups/nope', auth, { network: 'deny' });
    expect(updateMissing.statusCode).toBe(404);
  });

  it('keeps names unique per account (409) but lets two accounts use the same name', async () => {
    const app = await backend.app();
    const a = await signUp(app);
    const b = await signUp(app);
    expect((await callApi(app, 'POST', '/api/v1/policy-groups', bearer(a.apiToken), strict)).statusCode).toBe(
      201,
    );
    const again = await callApi(app, 'POST', '/api/v1/policy-groups', bearer(a.apiToken), strict);
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('POLICY_GROUP_EXISTS');
    expect((await callApi(app, 'POST', '/api/v1/policy-groups', bearer(b.apiToken), strict)).statusCode).toBe(
      201,
    );
  });

  it('keeps observeAll.ability public and read-only', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const auth = bearer(user.apiToken);
    const read = await callApi(app, 'GET', '/api/v1/policy-groups/observeAll.ability', auth);
    expect(read.statusCode).toBe(200);
    expect(read.json().policyGroup).toMatchObject({ name: 'observeAll.ability', readOnly: true, version: 1 });
    const put = await callApi(app, 'PUT', '/api/v1/policy-groups/observeAll.ability', auth, {
      network: 'deny',
    });
    expect(put.statusCode).toBe(403);
    expect(put.json().error.code).toBe('READ_ONLY_POLICY_GROUP');
    const del = await callApi(app, 'DELETE', '/api/v1/policy-groups/observeAll.ability', auth);
    expect(del.statusCode).toBe(403);
    const post = await callApi(app, 'POST', '/api/v1/policy-groups', auth, { name: 'observeAll.ability' });
    expect(post.statusCode).toBe(409);
  });

  it('refuses invalid groups with a 400 naming each field, storing nothing', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const auth = bearer(user.apiToken);
    const cases: Array<[unknown, string]> = [
      [{ name: 'x', network: 'allow' }, 'network'],
      [{ name: 'x', terminateOnDeny: 'yes' }, 'terminateOnDeny'],
      [{ name: 'x', terminateOnDeny: 'true' }, 'terminateOnDeny'],
      [{ network: 'deny' }, 'name'],
      [{ name: '' }, 'name'],
      [{ name: 'x', allowedDomains: [42] }, 'allowedDomains[0]'],
      [{ name: 'x', allowedPaths: 'not-a-list' }, 'allowedPaths'],
      [{ name: 'x', allowedPaths: ['relative/path'] }, 'allowedPaths[0]'],
      [{ name: 'x', allowedDomains: ['exa mple.com'] }, 'allowedDomains[0]'],
    ];
    for (const [payload, field] of cases) {
      const res = await callApi(app, 'POST', '/api/v1/policy-groups', auth, payload as object);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      const error = res.json().error;
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(
        error.details.map((d: { field: string }) => d.field),
        JSON.stringify(payload),
      ).toContain(field);
    }
    const list = await app.inject({ method: 'GET', url: '/api/v1/policy-groups', headers: auth });
    expect(list.json().policyGroups).toHaveLength(1);

    const array = await callApi(app, 'POST', '/api/v1/policy-groups', auth, [strict]);
    expect(array.statusCode).toBe(400);
    const renamed = await callApi(app, 'POST', '/api/v1/policy-groups', auth, strict);
    expect(renamed.statusCode).toBe(201);
    const rename = await callApi(app, 'PUT', '/api/v1/policy-groups/payments-strict', auth, {
      ...strict,
      name: 'other',
    });
    expect(rename.statusCode).toBe(400);
    expect(rename.json().error.details[0].field).toBe('name');
  });

  it('applies the policy engine bounds, so a group that passes `policy validate` is accepted', async () => {
    const app = await backend.app();
    const auth = bearer((await signUp(app)).apiToken);
    const longestPath = `/tmp/${'p'.repeat(POLICY_LIMITS.pathMaxLength - 5)}`;
    const accepted = await callApi(app, 'POST', '/api/v1/policy-groups', auth, {
      ...strict,
      allowedPaths: [longestPath],
    });
    expect(validatePolicyGroup({ ...strict, allowedPaths: [longestPath] }).ok).toBe(true);
    expect(accepted.statusCode).toBe(201);

    const tooLong = await callApi(app, 'POST', '/api/v1/policy-groups', auth, {
      ...strict,
      name: 'too-long',
      allowedPaths: [`${longestPath}p`],
    });
    expect(tooLong.statusCode).toBe(400);
    expect(JSON.stringify(tooLong.json().error)).toContain('allowedPaths');
  });

  it('gates allowCloudProviderTraffic on the plan: 402 on free, allowed on paid', async () => {
    const app = await backend.app();
    const user = await signUp(app);
    const auth = bearer(user.apiToken);
    const cloud = { name: 'with-cloud', network: 'deny', allowCloudProviderTraffic: true };
    const refused = await callApi(app, 'POST', '/api/v1/policy-groups', auth, cloud);
    expect(refused.statusCode).toBe(402);
    expect(refused.json().error).toMatchObject({
      code: 'PAID_PLAN_REQUIRED',
      message: expect.stringContaining('paid plan'),
    });
    expect(await backend.storage.getPolicyGroup(user.accountId, 'with-cloud')).toBeUndefined();

    expect(
      (await callApi(app, 'POST', '/api/v1/policy-groups', auth, { name: 'with-cloud' })).statusCode,
    ).toBe(201);
    const refusedUpdate = await callApi(app, 'PUT', '/api/v1/policy-groups/with-cloud', auth, cloud);
    expect(refusedUpdate.statusCode).toBe(402);

    await backend.storage.setAccountPlan(user.accountId, 'paid');
    const allowed = await callApi(app, 'PUT', '/api/v1/policy-groups/with-cloud', auth, cloud);
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json().policyGroup.allowCloudProviderTraffic).toBe(true);
    const me = await app.inject({ method: 'GET', url: '/api/v1/me', headers: auth });
    expect(me.json().plan).toMatchObject({
      name: 'paid',
      retentionDays: 90,
      features: { allowCloudProviderTraffic: true },
    });
  });

  it('isolates tenants: B never sees, reads, changes or deletes A’s groups', async () => {
    const app = await backend.app();
    const a = await signUp(app);
    const b = await signUp(app);
    await callApi(app, 'POST', '/api/v1/policy-groups', bearer(a.apiToken), { ...strict, name: 'a-only' });
    const list = await callApi(app, 'GET', '/api/v1/policy-groups', bearer(b.apiToken));
    expect(list.json().policyGroups.map((g: { name: string }) => g.name)).toEqual(['observeAll.ability']);
    expect(
      (await app.inject({ method: 'GET', url: '/api/v1/policy-groups/a-only', headers: bearer(b.apiToken) }))
        .statusCode,
    ).toBe(404);
    expect(
      (await callApi(app, 'PUT', '/api/v1/policy-groups/a-only', bearer(b.apiToken), { network: 'grant' }))
        .statusCode,
    ).toBe(404);
    expect(
      (await callApi(app, 'DELETE', '/api/v1/policy-groups/a-only', bearer(b.apiToken))).statusCode,
    ).toBe(404);
    const still = await callApi(app, 'GET', '/api/v1/policy-groups/a-only', bearer(a.apiToken));
    expect(still.json().policyGroup).toMatchObject({ version: 1, network: 'deny' });
  });
});
