/**
 * Where events go, each as one JSON line written synchronously (so nothing is lost when the process
 * is terminated or frozen right after): stdout (the function's log, CloudWatch), ES_EVENT_FILE when
 * set, and the spool `<ES_RUNTIME_DIR>/events.ndjson` that the extension tails. The fs functions are
 * captured at load and called as the agent's own work, so the app cannot intercept them and the
 * filesystem hooks never see them.
 */

import { asAgentWork } from './agent-work.js';
import { builtin } from './builtins.js';
import { isArray, jsonStringify, objectKeys } from './intrinsics.js';
import { describeError, logOnce } from './log.js';

const fs = builtin<typeof import('node:fs')>('node:fs');
const { dirname, join } = builtin<typeof import('node:path')>('node:path');

const { openSync, writeSync, mkdirSync, closeSync } = fs;
const bufferFrom = Buffer.from.bind(Buffer) as (text: string) => Buffer;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

export interface EventSinkOptions {
  eventFile?: string;
  /** The spool file, or undefined when no extension reads one. */
  spoolFile?: string;
}

export class EventSink {
  /** `created`: its directory was made. No descriptor is kept open between events (see write). */
  private readonly files: Array<{ path: string; created: boolean }>;

  constructor(options: EventSinkOptions) {
    this.files = [];
    if (options.eventFile) this.files.push({ path: options.eventFile, created: false });
    if (options.spoolFile) this.files.push({ path: options.spoolFile, created: false });
  }

  /** Set while a line is being written: see write. */
  private writing = false;

  write(event: object): void {
    // An event raised while we write one (our own file operation judged, because the stack that
    // proves it is ours could not be read: see agent-work.ts) is dropped rather than written, which
    // would raise it again, forever.
    if (this.writing) return;
    this.writing = true;
    try {
      this.writeLine(`${jsonStringify(detached(event))}\n`);
    } finally {
      this.writing = false;
    }
  }

  private writeLine(line: string): void {
    asAgentWork(() => {
      writeFully(1, line, 'stdout');
      // Each file is opened for this one line and closed again. A descriptor kept open is a number
      // the app can close and take over with a file of its own (fs.closeSync(n); fs.openSync(mine)),
      // silently diverting every later event away from ES_EVENT_FILE and the spool
      // (test/redteam-integrity.test.ts). Events are rare (observe/deny, aggregated).
      for (let i = 0; i < this.files.length; i++) {
        const file = this.files[i]!;
        let fd = -1;
        try {
          if (!file.created) {
            mkdirSync(dirname(file.path), { recursive: true, mode: 0o700 });
            file.created = true;
          }
          fd = openSync(file.path, 'a', 0o600);
          writeFully(fd, line, file.path);
        } catch (error) {
          logOnce(`sink:${file.path}`, `cannot write events to ${file.path}: ${describeError(error)}`);
        } finally {
          if (fd >= 0) closeQuietly(fd);
        }
      }
    });
  }
}

const objectCreate = Object.create;
const { setPrototypeOf } = Reflect;

/**
 * A copy of an event without prototypes. JSON.stringify asks every object and array for `toJSON`,
 * through its prototype chain: an app that sets `Object.prototype.toJSON` (or Array's) could rewrite
 * any event into whatever it likes ("observe", another target...). Events are plain data (strings,
 * numbers, booleans, plain objects, arrays), so a prototype-free copy serialises identically.
 */
function detached(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (isArray(value)) {
    const copy: unknown[] = [];
    for (let i = 0; i < value.length; i++) copy[i] = detached(value[i]);
    setPrototypeOf(copy, null);
    return copy;
  }
  const copy = objectCreate(null) as Record<string, unknown>;
  const keys = objectKeys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    copy[key] = detached((value as Record<string, unknown>)[key]);
  }
  return copy;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed: nothing was left open
  }
}

/** Writes the whole line; a non-blocking stdout pipe may say EAGAIN, so we wait briefly and retry. */
function writeFully(fd: number, text: string, name: string): void {
  let buffer = bufferFrom(text);
  for (let attempt = 0; buffer.length > 0 && attempt < 200; attempt++) {
    try {
      const written = writeSync(fd, buffer);
      buffer = buffer.subarray(written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') {
        logOnce(`sink:${name}`, `cannot write events to ${name}: ${describeError(error)}`);
        return;
      }
      Atomics.wait(sleepCell, 0, 0, 5);
    }
  }
}

/** The spool path for a runtime dir. */
export function spoolFileIn(runtimeDir: string): string {
  return join(runtimeDir, 'events.ndjson');
}
