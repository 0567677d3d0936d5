// Every file in src/hooks (except the registry itself) is registered, under its own file name,
// and every registered hook has its file: no list to keep in sync by hand.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HOOKS } from '../src/hooks/registry.js';
import { packageDir } from './harness.js';

describe('hook registry', () => {
  const hookFiles = readdirSync(join(packageDir, 'src', 'hooks'))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && file !== 'registry.ts')
    .map((file) => file.replace(/\.ts$/, ''))
    .sort();

  it('registers every hook file exactly once, named after its file', () => {
    const names = HOOKS.map((hook) => hook.name);
    expect([...names].sort()).toEqual(hookFiles);
    expect(new Set(names).size).toBe(names.length);
  });

  it('gives every hook a governed category and an install function', () => {
    for (const hook of HOOKS) {
      expect(['network', 'filesystem', 'process']).toContain(hook.category);
      expect(typeof hook.install).toBe('function');
    }
  });
});
