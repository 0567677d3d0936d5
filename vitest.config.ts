import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// One runner for the whole repository. Workspace packages resolve to their TypeScript sources,
// so unit tests never depend on a stale build; behaviour tests that need bundles (agent, layer)
// run after `npm run build`, which `npm test` does first.
export default defineConfig({
  resolve: {
    alias: {
      '@appdefender/policy': src('policy'),
      '@appdefender/server': src('server'),
      '@appdefender/lambda-sim': fileURLToPath(new URL('./testing/lambda-sim/src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: [
      'packages/*/src/**/*.test.{ts,tsx}',
      'packages/*/test/**/*.test.{ts,tsx}',
      'testing/*/src/**/*.test.ts',
      'testing/*/test/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
