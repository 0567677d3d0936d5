import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const cliDir = fileURLToPath(new URL('../../', import.meta.url));
export const binPath = join(cliDir, 'dist', 'bin.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * The binary tests run what users run: dist/bin.js. A stale build would test old code, so refuse
 * it. tsc -b rewrites its build info whenever any source changed (unlike outputs it may leave).
 */
export function assertBinaryBuilt(): void {
  let built: number;
  try {
    statSync(binPath);
    built = statSync(join(cliDir, 'tsconfig.tsbuildinfo')).mtimeMs;
  } catch {
    throw new Error(`${binPath} is missing: run \`npx tsc -b packages/cli\` before these tests`);
  }
  if (newestMtime(join(cliDir, 'src')) > built + 1000) {
    throw new Error(`${binPath} is older than packages/cli/src: run \`npx tsc -b packages/cli\` first`);
  }
}

/** Environment for the child: PATH and HOME only (nothing from the developer's AWS or AppDefender setup). */
export function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: home,
    // Never let the AWS SDK fall back to the instance metadata endpoint: tests talk to loopback only.
    AWS_EC2_METADATA_DISABLED: 'true',
    NO_COLOR: '1',
    ...extra,
  };
}

export interface BinaryResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runBinary(
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number },
): Promise<BinaryResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], {
      env: options.env,
      cwd: options.cwd ?? cliDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
