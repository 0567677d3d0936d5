/** Public result types of the local Lambda. */

export type ShutdownReason = 'spindown' | 'timeout' | 'failure';

/** The function's error as the runtime reported it (`/error`) or as Lambda reports a failed invocation. */
export interface FunctionError {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

export interface InvokeOptions {
  /** Passed as `Lambda-Runtime-Client-Context` (the runtime exposes it as `context.clientContext`). */
  clientContext?: Record<string, unknown>;
  /** Passed as `Lambda-Runtime-Cognito-Identity` (`context.identity`). */
  cognitoIdentity?: Record<string, unknown>;
}

export interface InvokeResult {
  requestId: string;
  /** True when the runtime answered with `/response`. */
  ok: boolean;
  /** As in `platform.runtimeDone`/`platform.report`: `failure` is a crash (runtime or extension exited). */
  status: 'success' | 'error' | 'timeout' | 'failure';
  /** The response payload (parsed JSON, or the raw text when it is not JSON). */
  result?: unknown;
  error?: FunctionError;
  /** From handing the event to the runtime until it answered: when the caller has its response. */
  durationMs: number;
  /** From the runtime's answer until every extension asked for the next event (then Lambda freezes). */
  postRuntimeDurationMs: number;
  /** Set when Lambda would discard this environment after the invocation; the next invoke starts a new Init. */
  reset?: ShutdownReason;
  /** Set when this invocation had to run an Init first (after a reset). */
  initDurationMs?: number;
}

export interface ShutdownResult {
  /** True when every extension registered for SHUTDOWN exited by itself within the 2-second budget. */
  extensionsExited: boolean;
  /** Sources (`runtime`, `extension:<name>`) still running at the deadline and SIGKILLed. */
  killed: string[];
}

/** An error an extension or the runtime reported, or a crash, kept for the caller to inspect. */
export interface EnvironmentError {
  source: string;
  errorType: string;
  errorMessage: string;
  timeMs: number;
}

export interface ProcessMemory {
  source: string;
  pid: number;
  rssKb: number;
  peakRssKb: number;
}
