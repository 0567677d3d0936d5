/** Stable codes for the ways the local Lambda itself can fail (not the function's own errors). */
export type LambdaSimErrorCode =
  | 'INVALID_OPTIONS'
  | 'INIT_FAILED'
  | 'NOT_RUNNING'
  | 'INVALID_PAYLOAD'
  | 'RUNTIME_NOT_FOUND';

/** An error of the local Lambda, with a stable `code` to branch on. */
export class LambdaSimError extends Error {
  readonly code: LambdaSimErrorCode;

  constructor(code: LambdaSimErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LambdaSimError';
    this.code = code;
  }
}

/** What Lambda reports when the Init phase fails (an extension or the runtime failed, or it timed out). */
export interface InitFailure {
  /** As Lambda names it: `Runtime.ImportModuleError`, `Runtime.ExitError`, `Extension.Crash`, `Sandbox.Timedout`... */
  errorType: string;
  errorMessage: string;
  /** `runtime` or `extension:<name>` */
  source: string;
}

/** `startLambda` rejects with this when the Init phase fails; everything it started is stopped already. */
export class LambdaInitError extends LambdaSimError {
  readonly errorType: string;
  readonly source: string;
  /** The function and extension log lines up to the failure, to see why. */
  readonly logs: string[];

  constructor(failure: InitFailure, logs: string[]) {
    super('INIT_FAILED', `Init failed (${failure.source}): ${failure.errorType}: ${failure.errorMessage}`);
    this.name = 'LambdaInitError';
    this.errorType = failure.errorType;
    this.source = failure.source;
    this.logs = logs;
  }
}
