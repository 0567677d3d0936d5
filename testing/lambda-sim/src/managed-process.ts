import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { LogEntry } from './options.js';
import { releaseGroup, watchGroup } from './orphan-reaper.js';

/** How long to wait for the last output lines of a process that has exited. */
const LAST_LINES_GRACE_MS = 200;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartProcessOptions {
  /** `runtime` or `extension:<name>`: the source of its log lines. */
  source: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  onLine: (entry: LogEntry) => void;
}

/**
 * A process of the execution environment, in a process group of its own so that freezing and
 * killing reach whatever it starts (a launcher's node, a wrapper's exec), as Lambda's cgroup does.
 */
export class ManagedProcess {
  readonly source: string;
  readonly exited: Promise<ProcessExit>;
  exit: ProcessExit | undefined;
  private readonly child: ChildProcess;
  private frozen = false;

  constructor(options: StartProcessOptions) {
    this.source = options.source;
    this.child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid !== undefined) watchGroup(this.child.pid);
    const streamsClosed = [
      captureLines(this.child.stdout, 'stdout', options),
      captureLines(this.child.stderr, 'stderr', options),
    ];
    this.exited = new Promise((resolve) => {
      let spawnError: Error | undefined;
      this.child.once('error', (error) => {
        spawnError = error;
        options.onLine({
          source: this.source,
          stream: 'stderr',
          line: `spawn failed: ${error.message}`,
          timeMs: Date.now(),
        });
      });
      // 'exit', not 'close': a leftover grandchild may hold the pipes open long after the process ended.
      this.child.once('exit', (code, signal) => {
        const exit = { code: spawnError ? 127 : code, signal };
        this.exit = exit;
        const lastLines = Promise.all(streamsClosed);
        void Promise.race([lastLines, delay(LAST_LINES_GRACE_MS)]).then(() => resolve(exit));
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined && this.child.pid !== undefined;
  }

  /** SIGSTOP the whole group: Lambda's freeze between invocations. */
  freeze(): void {
    if (this.running && !this.frozen && this.signalGroup('SIGSTOP')) this.frozen = true;
  }

  thaw(): void {
    if (this.frozen) {
      this.frozen = false;
      this.signalGroup('SIGCONT');
    }
  }

  /** Signals the process group (members may outlive its leader); false when it is gone already. */
  signalGroup(signal: NodeJS.Signals): boolean {
    const pid = this.child.pid;
    if (pid === undefined) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGKILL the group (stopped members die too) and stop watching it. */
  kill(): void {
    this.signalGroup('SIGKILL');
    this.frozen = false;
    if (this.child.pid !== undefined) releaseGroup(this.child.pid);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function captureLines(
  stream: NodeJS.ReadableStream | null,
  name: 'stdout' | 'stderr',
  options: StartProcessOptions,
): Promise<void> {
  if (!stream) return Promise.resolve();
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (line) =>
    options.onLine({ source: options.source, stream: name, line, timeMs: Date.now() }),
  );
  return new Promise((resolve) => lines.once('close', () => resolve()));
}
