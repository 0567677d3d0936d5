/**
 * The agent ↔ extension hand-off directory (docs/architecture.md, "Agent ↔ extension hand-off").
 * Every file another process reads is written atomically (temporary file + rename).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';

export interface RuntimeFiles {
  dir: string;
  policy: string;
  policyPending: string;
  policyError: string;
  events: string;
  runtime: string;
  /** The extension's own: byte offset of events.ndjson delivered so far (survives a restart). */
  deliveredOffset: string;
  /** The extension's own: the last policy fetched, for starts when the control plane is unreachable. */
  policyCache: string;
}

export function runtimeFilesIn(dir: string): RuntimeFiles {
  return {
    dir,
    policy: join(dir, 'policy.json'),
    policyPending: join(dir, 'policy.pending'),
    policyError: join(dir, 'policy.error.json'),
    events: join(dir, 'events.ndjson'),
    runtime: join(dir, 'runtime.json'),
    deliveredOffset: join(dir, 'events.delivered'),
    policyCache: join(dir, 'extension-policy-cache.json'),
  };
}

export function ensureRuntimeDir(files: RuntimeFiles): void {
  fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
}

/** Writes `content` so that readers see either the old file or the whole new one. */
export function writeFileAtomic(path: string, content: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, content, { mode: 0o600 });
  fs.renameSync(temporary, path);
}

export function removeIfPresent(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export function readJsonIfPresent(path: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return JSON.parse(text);
}

/** What the agent wrote about itself at start (runtime.json); undefined until the agent ran. */
export interface RuntimeInfo {
  runtime?: string;
  agentVersion?: string;
  handler?: string;
  pid?: number;
}

export function readRuntimeInfo(files: RuntimeFiles): RuntimeInfo | undefined {
  try {
    const parsed = readJsonIfPresent(files.runtime);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const record = parsed as Record<string, unknown>;
    const info: RuntimeInfo = {};
    if (typeof record.runtime === 'string') info.runtime = record.runtime;
    if (typeof record.agentVersion === 'string') info.agentVersion = record.agentVersion;
    if (typeof record.handler === 'string') info.handler = record.handler;
    if (typeof record.pid === 'number') info.pid = record.pid;
    return info;
  } catch {
    return undefined;
  }
}
