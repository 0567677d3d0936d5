import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../src/errors.js';
import { assertBinaryBuilt, binPath, cleanEnv } from './helpers/binary.js';

interface StoredEvent {
  category: string;
  action: string;
  target: string;
  function?: string;
  policyGroup: string;
}

describe('demo (binary)', () => {
  it('shows deny and observe events from the compromised function on the control plane within a minute', async () => {
    assertBinaryBuilt();
    // Prepare: start the demo the way `npm start` does, on any free port, invoking every second.
    const child = spawn(process.execPath, [binPath, 'demo', '--port', '0', '--interval', '1', '--json'], {
      env: cleanEnv('/nonexistent-home'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: unknown[] = [];
    let stderr = '';
    let buffer = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const banner = new Promise<{ dashboardUrl: string; email: string; password: string; apiToken: string }>(
      (resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          buffer += chunk;
          let newline = buffer.indexOf('\n');
          while (newline !== -1) {
            const value = JSON.parse(buffer.slice(0, newline));
            lines.push(value);
            if (value.dashboardUrl) resolve(value);
            buffer = buffer.slice(newline + 1);
            newline = buffer.indexOf('\n');
          }
        });
        void exited.then((code) => reject(new Error(`demo exited (${code}) before it was ready: ${stderr}`)));
      },
    );

    try {
      // Act: wait for it, then watch the control plane as the dashboard would.
      const info = await banner;
      const base = info.dashboardUrl.replace(/\/$/, '');
      // The printed URL is the dashboard (built by `npm run build`).
      const page = await fetch(info.dashboardUrl);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<!doctype html>/i);
      const login = await fetch(`${base}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: info.email, password: info.password }),
      });
      expect(login.status).toBe(200);
      let events: StoredEvent[] = [];
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const response = await fetch(`${base}/api/v1/events?limit=200`, {
          headers: { authorization: `Bearer ${info.apiToken}` },
        });
        events = ((await response.json()) as { events: StoredEvent[] }).events;
        const denied = events.filter((e) => e.action === 'deny' && e.function === 'image-resizer');
        const observedNetwork = events.some(
          (e) => e.function === 'image-resizer-observe' && e.category === 'network' && e.action === 'observe',
        );
        if (
          denied.some((e) => e.category === 'network') &&
          denied.some((e) => e.category === 'process') &&
          observedNetwork
        ) {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      // Assess
      const strict = events.filter((e) => e.function === 'image-resizer');
      expect(strict).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            category: 'network',
            action: 'deny',
            target: 'collect.exfil-demo.invalid:80',
          }),
          expect.objectContaining({ category: 'process', action: 'deny' }),
          expect.objectContaining({
            category: 'filesystem',
            action: 'observe',
            target: '/tmp/appdefender-demo-secrets/aws-credentials',
          }),
        ]),
      );
      expect(strict.every((e) => e.policyGroup === 'demo-strict')).toBe(true);
      // The well-behaved function is never denied anything.
      expect(events.filter((e) => e.function === 'orders-api' && e.action === 'deny')).toEqual([]);
      // Under observe the payload really ran, against the loopback attacker only.
      expect(lines).toEqual(
        expect.arrayContaining([
          { attacker: expect.objectContaining({ receivedBytes: expect.any(Number) }) },
        ]),
      );
    } finally {
      child.kill('SIGINT');
    }
    // Ctrl-C stops everything cleanly.
    expect(await exited).toBe(ExitCode.ok);
  }, 120_000);
});
