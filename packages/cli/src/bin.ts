#!/usr/bin/env node
import { createLambdaClient } from './aws/lambda-client.js';
import { runCli } from './program.js';

// The AWS SDK warns on every run under Node 20 about its future releases; the CLI supports Node 20,
// and a warning users cannot act on mid-command only hides the output that matters.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : warning.message;
  if (text.startsWith('NodeVersionSupportWarning')) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

// Signal handlers are in place from the start: a long-running command (server, demo, run, events
// tail) waits for them to shut down cleanly; with nobody waiting, or on a second Ctrl-C, the
// process ends at once with the usual 128 + signal number.
const interruptWaiters = new Set<() => void>();
for (const [signal, number] of [
  ['SIGINT', 2],
  ['SIGTERM', 15],
] as const) {
  process.on(signal, () => {
    if (interruptWaiters.size === 0) process.exit(128 + number);
    for (const wake of interruptWaiters) wake();
    interruptWaiters.clear();
  });
}
const waitForInterrupt = () => new Promise<void>((resolve) => interruptWaiters.add(resolve));

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  streams: { stdout: process.stdout, stderr: process.stderr },
  cwd: process.cwd(),
  createLambdaClient,
  fetch: globalThis.fetch,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  waitForInterrupt,
});
process.exitCode = code;
