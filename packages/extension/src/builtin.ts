/**
 * Loads a Node.js builtin module on first use, synchronously. Not `await import('node:…')`: in the
 * CommonJS bundle esbuild keeps a dynamic import of a builtin as it is, and Node then starts its
 * whole ES module loader for it (~6 ms of CPU and its memory, in a process that has no ES modules).
 * A require made from any path loads builtins; '/' is just a path that always exists.
 */
import { createRequire } from 'node:module';

const requireBuiltin = createRequire('/');

export function builtin<T>(name: `node:${string}`): T {
  return requireBuiltin(name) as T;
}
