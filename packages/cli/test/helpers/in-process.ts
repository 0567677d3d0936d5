import { PassThrough } from 'node:stream';
import { createLambdaClient } from '../../src/aws/lambda-client.js';
import type { CliDeps } from '../../src/context.js';
import { runCli } from '../../src/program.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/**
 * Runs the CLI in this process (so aws-sdk-client-mock sees its Lambda clients), with captured
 * output, no waiting between polls, and an environment that has nothing from the developer's.
 */
export async function runInProcess(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; deps?: Partial<CliDeps> } = {},
): Promise<CliResult> {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(args, {
    env: { APPDEFENDER_CONFIG: '/nonexistent/appdefender-config.json', ...options.env },
    streams: { stdout: stdout.stream, stderr: stderr.stream },
    cwd: options.cwd ?? process.cwd(),
    createLambdaClient,
    fetch: globalThis.fetch,
    sleep: async () => {},
    waitForInterrupt: () => new Promise(() => {}),
    ...options.deps,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
