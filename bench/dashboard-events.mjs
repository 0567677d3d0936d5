#!/usr/bin/env node
// Benchmark of the dashboard's events page (issue 6): is it smooth with 10,000 rows loaded and
// 50 live events a second? Runs the built control plane and the built dashboard in headless
// Chromium, loads 10,000 events, then scrolls the list continuously twice for a few seconds:
// once with no live traffic (the baseline) and once while an agent posts 50 events a second.
// Prints frame-time percentiles, long tasks and the ratio of the live run to the baseline.
// Bounded (about 30 s, one browser) because the machine is shared; prints figures, never asserts.
//
//   npm run build && node bench/dashboard-events.mjs [--quick]
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const serverEntry = join(root, 'packages/server/dist/index.js');
const dashboardDir = join(root, 'packages/dashboard/dist');
for (const [file, build] of [
  [serverEntry, 'npx tsc -b packages/server'],
  [join(dashboardDir, 'index.html'), 'npm run build -w @appdefender/dashboard'],
]) {
  if (!existsSync(file)) {
    console.error(`dashboard-events: ${file} is missing; build it first with: ${build}`);
    process.exit(1);
  }
}
const quick = process.argv.includes('--quick');
const ROWS = 10_000;
const LIVE_EVENTS_PER_SECOND = 50;
const PHASE_MS = quick ? 3000 : 6000;

const { startServer } = await import(pathToFileURL(serverEntry).href);
const { chromium } = await import('playwright-core');

const dataDir = mkdtempSync(join(tmpdir(), 'appdefender-bench-dashboard-'));
const server = await startServer({ port: 0, dataDir, dashboardDir, retention: false });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ],
});

let sequence = 0;
function event(timeMs) {
  sequence++;
  const categories = ['network', 'filesystem', 'process'];
  const category = categories[sequence % 3];
  return {
    id: randomUUID(),
    time: new Date(timeMs).toISOString(),
    category,
    action: sequence % 4 === 0 ? 'deny' : 'observe',
    operation: category === 'network' ? 'connect' : category === 'filesystem' ? 'write' : 'spawn',
    target:
      category === 'network'
        ? `api${sequence % 40}.example.com:443`
        : category === 'filesystem'
          ? `/tmp/cache/${sequence % 200}.json`
          : `git status --porcelain ${sequence % 10}`,
    terminated: false,
    policyGroup: 'observeAll.ability',
    function: `fn-${sequence % 25}`,
    module: { name: ['axios', 'pg', 'aws-sdk', 'undici'][sequence % 4], version: '1.0.0' },
    stack: ['/var/task/index.js:10:5 handler'],
  };
}

async function post(licenseKey, route, body) {
  const response = await fetch(`${server.url}/api/v1/agent/${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${licenseKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${route}: ${response.status} ${await response.text()}`);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Main-thread work so far (seconds): script, layout and style, from the DevTools protocol. */
async function mainThreadWork(cdp) {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const value = (name) => metrics.find((metric) => metric.name === name)?.value ?? 0;
  return {
    script: value('ScriptDuration'),
    layout: value('LayoutDuration'),
    style: value('RecalcStyleDuration'),
  };
}

/** Scrolls the list for `ms`, recording frame intervals, long tasks and main-thread work. */
async function measure(page, ms) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const before = await mainThreadWork(cdp);
  const result = await scrollAndRecord(page, ms);
  const after = await mainThreadWork(cdp);
  await cdp.detach();
  const perSecond = (key) => +(((after[key] - before[key]) * 1000) / (ms / 1000)).toFixed(1);
  return {
    ...result,
    scriptMsPerS: perSecond('script'),
    layoutMsPerS: perSecond('layout'),
    styleMsPerS: perSecond('style'),
  };
}

async function scrollAndRecord(page, ms) {
  return page.evaluate(async (durationMs) => {
    const scroller = document.querySelector('.event-table');
    const frames = [];
    let longTaskMs = 0;
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) longTaskMs += entry.duration;
    });
    observer.observe({ type: 'longtask', buffered: false });
    await new Promise((resolve) => {
      const start = performance.now();
      let last = start;
      let direction = 1;
      const tick = (now) => {
        frames.push(now - last);
        last = now;
        // Scroll like a reader flicking through the list, bouncing at the ends.
        if (scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 2) direction = -1;
        if (scroller.scrollTop <= 0) direction = 1;
        scroller.scrollTop += direction * 120;
        if (now - start < durationMs) requestAnimationFrame(tick);
        else resolve();
      };
      requestAnimationFrame(tick);
    });
    observer.disconnect();
    return { frames: frames.slice(1), longTaskMs, rowsInDom: document.querySelectorAll('tbody tr').length };
  }, ms);
}

function summarise(name, result) {
  const sorted = [...result.frames].sort((a, b) => a - b);
  const dropped = result.frames.filter((ms) => ms > 34).length;
  const summary = {
    phase: name,
    frames: result.frames.length,
    p50Ms: +percentile(sorted, 50).toFixed(1),
    p95Ms: +percentile(sorted, 95).toFixed(1),
    p99Ms: +percentile(sorted, 99).toFixed(1),
    droppedFrames: dropped,
    longTaskMs: Math.round(result.longTaskMs),
    scriptMsPerS: result.scriptMsPerS,
    layoutMsPerS: result.layoutMsPerS,
    styleMsPerS: result.styleMsPerS,
    rowsInDom: result.rowsInDom,
  };
  console.log(JSON.stringify(summary));
  return summary;
}

try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const signup = await context.request.post(`${server.url}/api/v1/signup`, {
    data: { email: 'bench@example.com', password: 'bench-password-1' },
  });
  if (!signup.ok()) throw new Error(`signup: ${signup.status()} ${await signup.text()}`);
  const { licenseKey } = await signup.json();

  // 10,000 events over the last 23 hours, in batches of the API's maximum.
  const now = Date.now();
  for (let batch = 0; batch < ROWS / 1000; batch++) {
    const events = Array.from({ length: 1000 }, (_, i) => event(now - (batch * 1000 + i) * 8_000));
    await post(licenseKey, 'events', { events });
  }

  const page = await context.newPage();
  const errors = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(server.url);
  await page.evaluate(() => localStorage.setItem('appdefender.signedIn', '1'));
  const loadStart = Date.now();
  await page.goto(`${server.url}/events`);
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
  while ((await page.getByRole('button', { name: 'Load older events' }).count()) > 0) {
    await page.getByRole('button', { name: 'Load older events' }).click();
    await page.waitForFunction(() => !document.querySelector('.list-footer button[disabled]'));
  }
  const loaded = await page.getByTestId('event-count').textContent();
  console.log(JSON.stringify({ rowsLoaded: loaded, loadMs: Date.now() - loadStart }));

  const baseline = summarise('baseline: 10k rows, scrolling', await measure(page, PHASE_MS));

  // 50 events a second, posted as they would arrive from many small agent flushes (5 every 100 ms).
  let live = true;
  let posted = 0;
  const feeder = (async () => {
    const perTick = LIVE_EVENTS_PER_SECOND / 10;
    while (live) {
      const tickStart = Date.now();
      await post(licenseKey, 'events', { events: Array.from({ length: perTick }, () => event(Date.now())) });
      posted += perTick;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 100 - (Date.now() - tickStart))));
    }
  })();
  const withLive = summarise(
    `live: 10k rows, scrolling, ${LIVE_EVENTS_PER_SECOND} events/s`,
    await measure(page, PHASE_MS),
  );
  live = false;
  await feeder;
  await page.waitForTimeout(300);
  const shown = await page.getByTestId('event-count').textContent();
  console.log(JSON.stringify({ livePosted: posted, rowsAfterLive: shown, consoleErrors: errors.length }));
  console.log(
    JSON.stringify({
      ratio_p95_live_vs_baseline: +(withLive.p95Ms / Math.max(baseline.p95Ms, 0.1)).toFixed(2),
      ratio_main_thread_work_live_vs_baseline: +(
        (withLive.scriptMsPerS + withLive.layoutMsPerS + withLive.styleMsPerS) /
        Math.max(1, baseline.scriptMsPerS + baseline.layoutMsPerS + baseline.styleMsPerS)
      ).toFixed(2),
      target:
        'p95 frame time stays near one frame (~16.7 ms) with live events; rowsInDom stays small (virtualised)',
    }),
  );
  await context.close();
} finally {
  await browser.close();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
