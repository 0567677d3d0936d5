import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard } from './build-dist.js';

/** The budget for the first load: all JavaScript the index page loads, gzipped. */
const FIRST_LOAD_JS_BUDGET_BYTES = 300 * 1024;

describe('dashboard bundle size', () => {
  let outDir: string;

  beforeAll(() => {
    // A fresh build of the current sources, in its own directory so it never races the e2e test's dist/.
    outDir = mkdtempSync(path.join(tmpdir(), 'appdefender-dashboard-size-'));
    buildDashboard(outDir);
  });

  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it(`loads at most ${FIRST_LOAD_JS_BUDGET_BYTES / 1024} KB of gzipped JavaScript on first load`, () => {
    const html = readFileSync(path.join(outDir, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="\/([^"]+\.js)"/g)].map(
      (match) => match[1]!,
    );
    expect(scripts.length).toBeGreaterThan(0);
    const sizes = scripts.map((file) => ({
      file,
      gzip: gzipSync(readFileSync(path.join(outDir, file))).length,
    }));
    const total = sizes.reduce((sum, entry) => sum + entry.gzip, 0);
    console.log(`first-load JS: ${(total / 1024).toFixed(1)} KB gzipped`, sizes);
    expect(total).toBeLessThan(FIRST_LOAD_JS_BUDGET_BYTES);
  });

  it('puts every emitted JavaScript asset under the budget too (lazy chunks included)', () => {
    const assets = readdirSync(path.join(outDir, 'assets')).filter((file) => file.endsWith('.js'));
    const total = assets.reduce(
      (sum, file) => sum + gzipSync(readFileSync(path.join(outDir, 'assets', file))).length,
      0,
    );
    expect(total).toBeLessThan(FIRST_LOAD_JS_BUDGET_BYTES);
  });
});
