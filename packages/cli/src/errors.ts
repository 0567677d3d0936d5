/**
 * Exit codes of the `appdefender` command. Scripts branch on these, so they never change meaning.
 * `run` is the exception: it exits with the code of the program it ran.
 */
export const ExitCode = {
  ok: 0,
  /** The command ran and failed: invalid policy, failed update, problems found by `doctor`. */
  failure: 1,
  /** Bad arguments or missing configuration (the command could not start). */
  usage: 2,
  /** The function, policy group, layer or file named does not exist. */
  notFound: 3,
  /** Missing or rejected credentials: AWS credentials, api token, license key. */
  auth: 4,
  /** The control plane (or another endpoint) could not be reached. */
  unreachable: 5,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface FieldProblem {
  field: string;
  message: string;
}

interface CliErrorOptions {
  cause?: unknown;
  /** One line telling the user what to do about it. */
  hint?: string;
  details?: FieldProblem[];
}

/** Every expected failure of a command: a stable `code`, an exit code, a message for humans. */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  readonly details: FieldProblem[];

  constructor(code: string, exitCode: ExitCodeValue, message: string, options: CliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }
}

export class UsageError extends CliError {
  constructor(message: string, options?: CliErrorOptions) {
    super('USAGE', ExitCode.usage, message, options);
    this.name = 'UsageError';
  }
}

export class NotFoundError extends CliError {
  constructor(message: string, options?: CliErrorOptions) {
    super('NOT_FOUND', ExitCode.notFound, message, options);
    this.name = 'NotFoundError';
  }
}

export class AuthError extends CliError {
  constructor(message: string, options?: CliErrorOptions) {
    super('AUTH', ExitCode.auth, message, options);
    this.name = 'AuthError';
  }
}

export class UnreachableError extends CliError {
  constructor(message: string, options?: CliErrorOptions) {
    super('UNREACHABLE', ExitCode.unreachable, message, options);
    this.name = 'UnreachableError';
  }
}

/** A policy file (or another document) that does not validate; `details` names each field. */
export class ValidationError extends CliError {
  constructor(message: string, details: FieldProblem[], options?: Omit<CliErrorOptions, 'details'>) {
    super('VALIDATION_FAILED', ExitCode.failure, message, { ...options, details });
    this.name = 'ValidationError';
  }
}

/** Returns the `name` of an error-like value (AWS SDK errors are classes named after the exception). */
export function errorName(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string') {
    return error.name;
  }
  return undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Ends the command with an exit code and no message (e.g. `run` passing on its program's code). */
export class SilentExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'SilentExit';
    this.exitCode = exitCode;
  }
}
