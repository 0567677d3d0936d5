/**
 * Typed errors of the extension. Callers branch on `code`, never on message text.
 */
export type ExtensionErrorCode =
  | 'CONFIG_INVALID'
  | 'HTTP_TIMEOUT'
  | 'HTTP_FAILED'
  | 'LAMBDA_API_FAILED'
  | 'POLICY_UNAVAILABLE'
  | 'POLICY_INVALID';

export class ExtensionError extends Error {
  readonly code: ExtensionErrorCode;

  constructor(code: ExtensionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExtensionError';
    this.code = code;
  }
}

/** Describes an unknown thrown value for a log line. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
