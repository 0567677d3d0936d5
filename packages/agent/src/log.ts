/**
 * The agent's own diagnostics: one line to stderr, prefixed so it is never mistaken for an event
 * (events go to stdout as pure JSON). Written synchronously with the original fs functions captured
 * at load, so a hooked or replaced `console`/`fs` in the app cannot hide or fake them.
 */
import { builtin } from './builtins.js';

const { writeSync } = builtin<typeof import('node:fs')>('node:fs');
const loggedKeys = new Set<string>();

export function logLine(message: string): void {
  try {
    writeSync(2, `[appdefender] ${message}\n`);
  } catch {
    // stderr closed: nothing sensible left to do, and the app must not notice
  }
}

/** Logs `message` only the first time `key` is seen, so a failing hook cannot flood the log. */
export function logOnce(key: string, message: string): void {
  if (loggedKeys.has(key)) return;
  loggedKeys.add(key);
  logLine(message);
}

/** Describes an unknown thrown value for a log line. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
