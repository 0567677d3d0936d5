#!/usr/bin/env node
import { createLambdaClient } from './aws/lambda-client.js';
import { runCli } from './program.js';

const waitForInterrupt = () =>
  new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });

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
