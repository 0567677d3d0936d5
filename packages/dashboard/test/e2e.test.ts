import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { uuidv7 } from '@appdefender/policy';
import { type RunningServer, startServer } from '@appdefender/server';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDashboardBuilt } from './build-dist.js';
import { see, seePage } from './expect-eventually.js';

// The whole product path in a real browser: the built dashboard, served by the real control plane,
// driven in headless Chromium; data arrives through the agent API with the account's license key.

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/dashboard/', import.meta.url));
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

describe('dashboard end to end', () => {
  let dataDir: string;
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'appdefender-dashboard-e2e-'));
    const dashboardDir = ensureDashboardBuilt(path.join(dataDir, 'dashboard'));
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startServer({
      port: 0,
      dataDir: path.join(dataDir, 'data'),
      dashboardDir,
      retention: false,
    });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: 'light' });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') {
        consoleErrors.push(`${message.type()}: ${message.text()}`);
      }
    });
    page.on('pageerror', (error) => consoleErrors.push(`pageerror: ${error.message}`));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const shot = async (name: string, options: { fullPage?: boolean } = {}) => {
    const fullPage = options.fullPage !== false;
    // The top bar is sticky: from the top, a full-page capture shows it where a reader sees it.
    if (fullPage) await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
  };

  async function agentPost(licenseKey: string, route: string, body: unknown): Promise<unknown> {
    const response = await fetch(`${server.url}/api/v1/agent/${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${licenseKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = await response.json();
    expect(response.status, JSON.stringify(json)).toBe(200);
    return json;
  }

  function agentEvent(overrides: Record<string, unknown>) {
    return {
      id: uuidv7(),
      time: new Date().toISOString(),
      category: 'network',
      action: 'deny',
      operation: 'connect',
      target: 'api.evil.example:443',
      terminated: false,
      policyGroup: 'payments-strict',
      function: 'checkout-api',
      functionVersion: '$LATEST',
      requestId: 'c0ffee00-1111-2222-3333-444455556666',
      runtime: 'nodejs20.x',
      provider: 'aws',
      region: 'eu-west-1',
      agentVersion: '0.1.0',
      rule: 'mode',
      reason: 'network is deny and api.evil.example is not in allowedDomains',
      module: { name: 'axios', version: '1.7.9' },
      stack: [
        '/var/task/node_modules/axios/lib/adapters/http.js:512:14 dispatchHttpRequest',
        '/var/task/pay.js:18:9 charge',
      ],
      ...overrides,
    };
  }

  it('signs up, edits policy groups, receives live events, filters and opens one', async () => {
    // Sign up from the sign-in page.
    await page.goto(server.url);
    await see(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    await shot('01-sign-in');
    await page.getByRole('link', { name: 'Create a free account' }).click();
    await page.getByLabel('Email').fill('secops@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Create account' }).click();

    // First run: the license key and the snippets.
    await see(page.getByRole('heading', { name: 'Set up a function' })).toBeVisible();
    const licenseKey = (await page.getByTestId('license-key').textContent()) ?? '';
    expect(licenseKey).toMatch(/^adk_live_/);
    await see(page.getByTestId('api-token')).toHaveText(/^adt_/);
    await see(page.getByRole('tab', { name: 'AWS console' })).toHaveAttribute('aria-selected', 'true');
    await see(page.locator('.tabpanel pre')).toContainText(`ES_LICENSE_KEY=${licenseKey}`);
    await page.getByLabel('AWS region').fill('eu-west-1');
    await page.getByLabel('Architecture').selectOption('arm64');
    await see(page.getByTestId('layer-arn')).toHaveText(
      'arn:aws:lambda:eu-west-1:201476247173:layer:Extrinsec-Appdefender-arm64:<EXTENSION_VERSION>',
    );
    await page.getByRole('tab', { name: 'SAM' }).click();
    await see(page.locator('.tabpanel pre')).toContainText('Extrinsec-Appdefender-arm64');
    await see(page.locator('.tabpanel pre')).toContainText(
      "AWS_LAMBDA_EXEC_WRAPPER: '/opt/appdefender_wrapper'",
    );
    await page.getByRole('tab', { name: 'SAM' }).press('ArrowRight');
    await see(page.getByRole('tab', { name: 'CDK' })).toBeFocused();
    await see(page.getByText('observeAll.ability: watch first, decide later')).toBeVisible();
    await shot('02-setup');

    // Create a policy group; an invalid domain is flagged next to the field before saving.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policy groups' }).click();
    await see(page.getByRole('link', { name: 'observeAll.ability' })).toBeVisible();
    await page.getByRole('link', { name: 'New policy group' }).click();
    await page.getByLabel('Name').fill('payments-strict');
    await page.getByLabel('Description').fill('Checkout: Stripe only');
    await page.getByRole('group', { name: 'Network' }).getByRole('radio', { name: /Deny/ }).check();
    await see(
      page.getByRole('group', { name: 'Network' }).getByRole('radio', { name: /Deny/ }),
    ).toBeChecked();
    const domains = page.getByLabel('Allowed domains');
    await domains.fill('.stripe.com\nhttps://api.stripe.com/v1');
    await see(domains).toHaveAttribute('aria-invalid', 'true');
    const domainError = page.locator('ul.field-error', { hasText: 'https://api.stripe.com/v1' });
    await see(domainError).toBeVisible();
    // The message is tied to the field for assistive technology.
    const describedBy = (await domains.getAttribute('aria-describedby')) ?? '';
    expect(describedBy.split(' ')).toContain(await domainError.getAttribute('id'));
    await see(page.getByLabel('Allow cloud provider traffic')).toBeDisabled();
    await see(page.locator('.paid-badge')).toHaveText('Paid plan');
    await see(page.getByText('Changes apply to each function at its next start')).toBeVisible();
    await shot('03-policy-editor-invalid');
    // Saving is refused while the error stands.
    await page.getByRole('button', { name: 'Create policy group' }).click();
    await see(page.getByText('Fix the error above to save.')).toBeVisible();

    await domains.fill('.stripe.com\nstripe');
    await see(domains).notToHaveAttribute('aria-invalid', 'true');
    // `stripe` alone also matches stripe.evil.tld: the engine's weak-entry warning is shown.
    await see(page.locator('ul.field-warning')).toContainText('stripe');
    await page.getByLabel('Try a host name').fill('api.stripe.com');
    await see(page.getByText('Allowed by “.stripe.com”, “stripe”')).toBeVisible();
    await page.getByRole('button', { name: 'Create policy group' }).click();
    await see(page.getByText('Saved. Functions pick it up at their next start.')).toBeVisible();
    await seePage(page).toHaveURL(/\/policy-groups\/payments-strict$/);
    await shot('04-policy-editor-saved');

    // Edit it: process to deny, terminate on deny, a command; it persists across a reload.
    await page.getByRole('group', { name: 'Process' }).getByRole('radio', { name: /Deny/ }).check();
    await page.getByLabel('Terminate on deny').check();
    await page.getByLabel('Allowed commands').fill('/usr/bin/git');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await see(page.getByText('Saved. Functions pick it up at their next start.')).toBeVisible();
    await page.reload();
    await see(page.getByLabel('Allowed commands')).toHaveValue('/usr/bin/git');
    await see(
      page.getByRole('group', { name: 'Process' }).getByRole('radio', { name: /Deny/ }),
    ).toBeChecked();
    await see(page.getByLabel('Terminate on deny')).toBeChecked();
    await see(page.getByText(/Version 2, updated/)).toBeVisible();

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Policy groups' }).click();
    await see(page.getByRole('link', { name: 'payments-strict' })).toBeVisible();
    await shot('13-policy-groups');

    // The public group is shown read-only.
    await page.goto(`${server.url}/policy-groups/observeAll.ability`);
    await see(page.getByText('is a public policy group')).toBeVisible();
    await see(page.getByLabel('Description')).toBeDisabled();

    // Events: empty, live, then an agent reports a function and events arrive without reload.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Events' }).click();
    await see(page.getByRole('status').filter({ hasText: 'Live' })).toBeVisible();
    await see(page.getByTestId('retention')).toContainText(/Events are kept for \d+ days?/);
    await see(page.getByTestId('event-count')).toHaveText('0');

    await agentPost(licenseKey, 'functions', {
      provider: 'aws',
      region: 'eu-west-1',
      accountId: '123456789012',
      runtime: 'nodejs20.x',
      architecture: 'arm64',
      memoryMb: 512,
      functionName: 'checkout-api',
      functionVersion: '$LATEST',
      policyGroup: 'payments-strict',
      agentVersion: '0.1.0',
      coldStart: true,
    });
    await agentPost(licenseKey, 'events', {
      events: [
        agentEvent({}),
        agentEvent({
          category: 'filesystem',
          action: 'observe',
          operation: 'write',
          target: '/tmp/receipts/42.pdf',
          module: { name: 'pdfkit', version: '0.15.0' },
          reason: 'filesystem is observe',
        }),
      ],
    });
    await see(page.getByTestId('event-count')).toHaveText('2');
    const denyRow = page.locator('tbody tr[data-event-id]', { hasText: 'api.evil.example:443' });
    await see(denyRow).toBeVisible();
    await see(denyRow).toContainText('axios');

    // Paused: new events are counted, not shown, until resumed.
    await page.getByRole('button', { name: 'Pause' }).click();
    await agentPost(licenseKey, 'events', {
      events: [
        agentEvent({
          category: 'process',
          action: 'deny',
          operation: 'spawn',
          target: 'curl http://169.254.169.254/',
        }),
      ],
    });
    await see(page.getByTestId('pending-count')).toHaveText(/1 new/);
    await see(page.getByTestId('event-count')).toHaveText('2');
    await page.getByRole('button', { name: 'Resume and show 1' }).click();
    await see(page.getByTestId('event-count')).toHaveText('3');
    await see(page.locator('.barlist', { hasText: 'Top functions' })).toContainText('checkout-api');
    await shot('05-events-live');

    // Filters live in the URL and survive a reload.
    await page.getByLabel('Category', { exact: true }).selectOption('filesystem');
    await seePage(page).toHaveURL(/category=filesystem/);
    await see(page.getByTestId('event-count')).toHaveText('1');
    await see(page.locator('tbody tr[data-event-id]')).toContainText('/tmp/receipts/42.pdf');
    await page.getByLabel('Category', { exact: true }).selectOption('');
    await page.getByLabel('Search', { exact: true }).fill('evil');
    await seePage(page).toHaveURL(/q=evil/);
    await see(page.getByTestId('event-count')).toHaveText('1');
    await page.reload();
    await see(page.getByLabel('Search', { exact: true })).toHaveValue('evil');
    await see(page.getByTestId('event-count')).toHaveText('1');
    // A live event that does not match the filter stays out; one that does comes in.
    await agentPost(licenseKey, 'events', {
      events: [
        agentEvent({ target: 'api.stripe.com:443', action: 'observe' }),
        agentEvent({ target: 'evil-cdn.example:443', module: { name: 'node-fetch', version: '3.3.2' } }),
      ],
    });
    await see(page.getByTestId('event-count')).toHaveText('2');
    await see(page.locator('tbody tr[data-event-id]', { hasText: 'api.stripe.com' })).toHaveCount(0);

    // Open an event from the keyboard: the drawer shows the whole event.
    await page.locator('tbody tr[data-event-id]', { hasText: 'api.evil.example:443' }).click();
    const drawer = page.getByRole('dialog');
    await see(drawer).toBeVisible();
    await see(drawer.getByRole('heading', { name: 'api.evil.example:443' })).toBeVisible();
    await see(drawer).toContainText('axios@1.7.9');
    await see(drawer).toContainText('/var/task/pay.js:18:9 charge');
    await see(drawer).toContainText('network is deny and api.evil.example is not in allowedDomains');
    await see(drawer).toContainText('c0ffee00-1111-2222-3333-444455556666');
    await seePage(page).toHaveURL(/event=/);
    await shot('06-event-drawer', { fullPage: false });
    await page.keyboard.press('Escape');
    await see(drawer).toBeHidden();
    await seePage(page).notToHaveURL(/event=/);
    // Keyboard: Tab into the table, arrows move, Enter opens.
    await page.locator('tbody tr[data-event-id]').first().focus();
    await page.keyboard.press('ArrowDown');
    await see(page.locator('tbody tr[data-event-id]').nth(1)).toBeFocused();
    await page.keyboard.press('Enter');
    await see(drawer).toBeVisible();
    await page.keyboard.press('Escape');

    // Functions: the reported function with its facts and counts.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Functions' }).click();
    const fnRow = page.locator('tbody tr', { hasText: 'checkout-api' });
    await see(fnRow).toContainText('payments-strict');
    await see(fnRow).toContainText('nodejs20.x');
    await see(fnRow).toContainText('arm64');
    await see(fnRow).toContainText('eu-west-1');
    await see(fnRow.locator('.count-chip.action-deny')).toContainText('3');
    await shot('07-functions');
    await fnRow.getByRole('link', { name: 'checkout-api' }).click();
    await see(page.getByRole('heading', { name: 'checkout-api', level: 1 })).toBeVisible();
    await see(page.getByTestId('event-count')).toHaveText('5');
    await see(page.getByRole('img', { name: /Events over time by action: 5 events/ })).toBeVisible();
    await see(page.getByTestId('kpi-total')).toHaveText('5');
    await see(page.locator('.barlist', { hasText: 'Top domains' })).toContainText('evil-cdn.example');
    await see(page.locator('.barlist', { hasText: 'Top commands' })).toContainText(
      'curl http://169.254.169.254/',
    );
    await shot('08-function-page');

    // Phone width and dark mode: the events page still works.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${server.url}/events`);
    await see(page.getByTestId('event-count')).toHaveText('5');
    await shot('09-events-phone-dark');
    await page.getByRole('link', { name: 'Policy groups' }).click();
    await page.getByRole('link', { name: 'payments-strict' }).click();
    await see(page.getByLabel('Allowed commands')).toHaveValue('/usr/bin/git');
    await shot('11-policy-editor-phone-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(`${server.url}/functions`);
    await see(page.locator('tbody tr', { hasText: 'checkout-api' })).toBeVisible();
    await shot('12-functions-phone');
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${server.url}/events`);
    await see(page.getByTestId('event-count')).toHaveText('5');
    await page.setViewportSize({ width: 1440, height: 900 });
    await shot('10-events-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // Sign out and back in.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await see(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
    await page.getByLabel('Email').fill('secops@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await see(page.getByRole('heading', { name: 'Events', level: 1 })).toBeVisible();

    expect(consoleErrors).toEqual([]);
  }, 120_000);

  it('manages license keys and api tokens, and opens a linked event outside the loaded page', async () => {
    const keysContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const keysPage = await keysContext.newPage();
    keysPage.setDefaultTimeout(10_000);
    const errors: string[] = [];
    const expectedNotFound: string[] = [];
    keysPage.on('console', (message) => {
      if (message.type() !== 'error' && message.type() !== 'warning') return;
      // Chromium logs every 4xx fetch; the one for a deliberately unknown event is expected.
      if (expectedNotFound.some((url) => message.location().url.endsWith(url))) return;
      errors.push(`${message.type()}: ${message.text()}`);
    });
    keysPage.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
    const keyShot = (name: string, fullPage = true) =>
      keysPage.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
    const agentGet = (licenseKey: string) =>
      fetch(`${server.url}/api/v1/agent/policy?group=observeAll.ability`, {
        headers: { authorization: `Bearer ${licenseKey}` },
      });
    try {
      await keysPage.goto(`${server.url}/signup`);
      await keysPage.getByLabel('Email').fill('keys@example.com');
      await keysPage.getByLabel('Password').fill('correct horse battery');
      await keysPage.getByRole('button', { name: 'Create account' }).click();
      await see(keysPage.getByRole('heading', { name: 'Set up a function' })).toBeVisible();
      const signupKey = (await keysPage.getByTestId('license-key').textContent()) ?? '';
      expect(signupKey).toMatch(/^adk_live_/);

      // The Keys page lists the sign-up key by its last 4 characters, never the secret.
      await keysPage.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Keys' }).click();
      await see(keysPage.getByRole('heading', { name: 'Keys and tokens', level: 1 })).toBeVisible();
      const keyRows = keysPage.getByTestId('license-key-row');
      await see(keyRows).toHaveCount(1);
      await see(keyRows.first()).toContainText(`adk_live_…${signupKey.slice(-4)}`);
      await see(keyRows.first()).toContainText('default');
      expect(await keysPage.content()).not.toContain(signupKey);

      // Create a labelled key: shown once, with a copy button; it works for agents.
      await keysPage.getByLabel('Label of a new license key').fill('ci-pipeline');
      await keysPage.getByRole('button', { name: 'Create license key' }).click();
      const newKeyBox = keysPage.getByTestId('new-license-key');
      await see(newKeyBox).toContainText('New license key “ci-pipeline”');
      const newKey = (await keysPage.getByTestId('new-license-key-secret').textContent()) ?? '';
      expect(newKey).toMatch(/^adk_live_[0-9A-Za-z]{38}$/);
      await see(newKeyBox.getByRole('button', { name: 'Copy' })).toBeVisible();
      await see(keyRows).toHaveCount(2);
      await keyShot('14-keys-created');
      expect((await agentGet(newKey)).status).toBe(200);
      await keysPage.reload();
      await see(keyRows).toHaveCount(2);
      await see(keysPage.getByTestId('license-key-row').filter({ hasText: 'ci-pipeline' })).toContainText(
        `adk_live_…${newKey.slice(-4)}`,
      );
      expect(await keysPage.content()).not.toContain(newKey);
      // Its use by the agent shows.
      await see(keyRows.filter({ hasText: 'ci-pipeline' })).toContainText('just now');

      // Revoke it from the keyboard: Escape cancels, the dialog's button confirms.
      const revokeButton = keysPage.getByRole('button', { name: /^Revoke license key ci-pipeline/ });
      await revokeButton.focus();
      await keysPage.keyboard.press('Enter');
      const confirm = keysPage.getByRole('dialog', { name: 'Revoke license key “ci-pipeline”?' });
      await see(confirm).toBeVisible();
      await see(confirm.getByRole('button', { name: 'Cancel' })).toBeFocused();
      await keysPage.keyboard.press('Escape');
      await see(confirm).toBeHidden();
      await see(revokeButton).toBeFocused();
      await see(keyRows).toHaveCount(2);
      expect((await agentGet(newKey)).status).toBe(200);
      await keysPage.keyboard.press('Enter');
      await see(confirm).toBeVisible();
      await see(confirm).toContainText('get 401 from their next call');
      await keyShot('15-keys-revoke-confirm', false);
      await keysPage.keyboard.press('Tab');
      await see(confirm.getByRole('button', { name: 'Revoke license key' })).toBeFocused();
      await keysPage.keyboard.press('Enter');
      await see(confirm).toBeHidden();
      await see(keysPage.getByRole('status').filter({ hasText: 'was revoked' })).toBeVisible();
      await see(keyRows).toHaveCount(1);
      // The revoked key no longer fetches a policy; the sign-up key still does.
      const refused = await agentGet(newKey);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('UNKNOWN_CREDENTIAL');
      expect((await agentGet(signupKey)).status).toBe(200);

      // The last key: the confirmation says so; cancel it.
      await keysPage.getByRole('button', { name: /^Revoke license key default/ }).click();
      await see(keysPage.getByRole('dialog')).toContainText('last license key');
      await keysPage.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
      await see(keysPage.getByRole('dialog')).toBeHidden();

      // Api tokens: create (shown once), it reads the account; revoked, it no longer does.
      await keysPage.getByLabel('Name of a new api token').fill('deploy');
      await keysPage.getByRole('button', { name: 'Create api token' }).click();
      const token = (await keysPage.getByTestId('new-api-token-secret').textContent()) ?? '';
      expect(token).toMatch(/^adt_/);
      const me = () => fetch(`${server.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      expect((await me()).status).toBe(200);
      await see(keysPage.getByTestId('api-token-row')).toHaveCount(2);
      await keysPage.getByRole('button', { name: 'Done, I saved it' }).click();
      await see(keysPage.getByTestId('new-api-token')).toBeHidden();
      await keyShot('16-keys');
      await keysPage.getByRole('button', { name: /^Revoke api token deploy/ }).click();
      await keysPage.getByRole('dialog').getByRole('button', { name: 'Revoke api token' }).click();
      await see(keysPage.getByTestId('api-token-row')).toHaveCount(1);
      expect((await me()).status).toBe(401);
      await keysPage.setViewportSize({ width: 390, height: 844 });
      await keysPage.reload();
      await see(keysPage.getByTestId('api-token-row')).toHaveCount(1);
      await keyShot('18-keys-phone');
      await keysPage.setViewportSize({ width: 1280, height: 900 });

      // An event older than the loaded page (the newest 1000), opened by a shared link.
      const now = Date.now();
      const old = agentEvent({
        time: new Date(now - 2 * 3600_000).toISOString(),
        target: 'old-exfil.example:443',
        function: 'billing-api',
      });
      await agentPost(signupKey, 'events', { events: [old] });
      const newer = Array.from({ length: 1000 }, (_, i) =>
        agentEvent({
          time: new Date(now - 60_000 + i).toISOString(),
          target: `cdn-${i}.example:443`,
          stack: undefined,
          reason: undefined,
        }),
      );
      await agentPost(signupKey, 'events', { events: newer });
      await keysPage.goto(`${server.url}/events?event=${old.id}`);
      await see(keysPage.getByTestId('event-count')).toHaveText('1,000');
      await see(keysPage.getByText('(newest first, more available)')).toBeVisible();
      const drawer = keysPage.getByRole('dialog');
      await see(drawer.getByRole('heading', { name: 'old-exfil.example:443' })).toBeVisible();
      await see(drawer).toContainText('billing-api');
      await keysPage.reload();
      await see(drawer.getByRole('heading', { name: 'old-exfil.example:443' })).toBeVisible();
      await keyShot('17-event-direct-link', false);
      await keysPage.keyboard.press('Escape');
      await see(drawer).toBeHidden();
      await seePage(keysPage).notToHaveURL(/event=/);

      // A link to an event this account does not have says so.
      const missingId = uuidv7();
      expectedNotFound.push(`/api/v1/events/${missingId}`);
      await keysPage.goto(`${server.url}/events?event=${missingId}`);
      await see(keysPage.getByTestId('event-lookup-error')).toContainText('is not in this account');
      await keysPage.getByRole('button', { name: 'Dismiss' }).click();
      await see(keysPage.getByTestId('event-lookup-error')).toBeHidden();
      await seePage(keysPage).notToHaveURL(/event=/);
      expect(errors).toEqual([]);
    } finally {
      await keysContext.close();
    }
  }, 120_000);

  it('gives a temporary key without an account, explaining observeAll.ability', async () => {
    const anonymous = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const tempPage = await anonymous.newPage();
    const errors: string[] = [];
    tempPage.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    tempPage.on('pageerror', (error) => errors.push(error.message));
    try {
      await tempPage.goto(server.url);
      await tempPage.getByRole('link', { name: 'Get a temporary key' }).click();
      await see(
        tempPage.getByRole('heading', { name: 'Try AppDefender with a temporary key' }),
      ).toBeVisible();
      await tempPage.getByRole('button', { name: 'Get a temporary key' }).click();
      const key = (await tempPage.getByTestId('temporary-key').textContent()) ?? '';
      expect(key).toMatch(/^adk_temp_/);
      await see(tempPage.locator('.tabpanel pre')).toContainText('ES_POLICY_GROUP_NAME=observeAll.ability');
      await see(tempPage.getByText('observes').first()).toBeVisible();
      await tempPage.screenshot({ path: path.join(ARTIFACTS, '00-temporary-key.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await anonymous.close();
    }
  }, 60_000);
});
