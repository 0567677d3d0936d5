import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
export const DIST_DIR = path.join(PACKAGE_DIR, 'dist');
const VITE_BIN = fileURLToPath(new URL('../../../node_modules/vite/bin/vite.js', import.meta.url));

function newestMtimeMs(target: string): number {
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(target)) {
    if (entry === 'node_modules' || entry.endsWith('.test.ts')) continue;
    newest = Math.max(newest, newestMtimeMs(path.join(target, entry)));
  }
  return newest;
}

/** The app's inputs: its sources, its page and config, and the policy engine it bundles. */
function sourcesMtimeMs(): number {
  return Math.max(
    newestMtimeMs(path.join(PACKAGE_DIR, 'src')),
    newestMtimeMs(path.join(PACKAGE_DIR, 'index.html')),
    newestMtimeMs(path.join(PACKAGE_DIR, 'vite.config.ts')),
    newestMtimeMs(path.join(PACKAGE_DIR, '..', 'policy', 'src')),
  );
}

/** Runs `vite build` into `outDir` (a child process, as `npm run build` would). */
export function buildDashboard(outDir: string): void {
  execFileSync(
    process.execPath,
    [VITE_BIN, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
    {
      cwd: PACKAGE_DIR,
      // vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
}

/**
 * The built app for a test: dist/ when it is up to date; otherwise a fresh build of the current
 * sources into `fallbackDir`. dist/ itself is never rewritten here, so other test files that serve
 * it (the server's) never see it half-built.
 */
export function ensureDashboardBuilt(fallbackDir: string): string {
  const index = path.join(DIST_DIR, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= sourcesMtimeMs()) return DIST_DIR;
  buildDashboard(fallbackDir);
  return fallbackDir;
}
