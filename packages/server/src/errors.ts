/**
 * The control plane's error catalogue. Every failure a client can see is an `ApiError` with a
 * stable `code` (clients branch on it, never on the message) and an HTTP status. The error handler
 * in `error-handler.ts` turns them into `{ error: { code, message, details } }`.
 */

/** One problem with the input: the field (`events[3].time`, `network`, `query.limit`) and why. */
export interface FieldProblem {
  field: string;
  message: string;
}

export class ApiError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly details: FieldProblem[] | undefined;
  /** Extra response headers, e.g. `Retry-After` on 429. */
  readonly headers: Record<string, string> | undefined;

  constructor(options: {
    statusCode: number;
    code: string;
    message: string;
    details?: FieldProblem[];
    headers?: Record<string, string>;
    cause?: unknown;
  }) {
    super(options.message, { cause: options.cause });
    this.name = 'ApiError';
    this.statusCode = options.statusCode;
    this.code = options.code;
    this.details = options.details;
    this.headers = options.headers;
  }
}

export function validationFailed(details: FieldProblem[], message?: string): ApiError {
  const first = details[0];
  return new ApiError({
    statusCode: 400,
    code: 'VALIDATION_FAILED',
    message: message ?? (first ? `${first.field}: ${first.message}` : 'the request is invalid'),
    details,
  });
}

export function unauthorized(code: string, message: string): ApiError {
  return new ApiError({ statusCode: 401, code, message });
}

export function forbidden(code: string, message: string): ApiError {
  return new ApiError({ statusCode: 403, code, message });
}

export function notFound(code: string, message: string): ApiError {
  return new ApiError({ statusCode: 404, code, message });
}

export function conflict(code: string, message: string): ApiError {
  return new ApiError({ statusCode: 409, code, message });
}

export function paidPlanRequired(feature: string, planName: string): ApiError {
  return new ApiError({
    statusCode: 402,
    code: 'PAID_PLAN_REQUIRED',
    message: `${feature} needs a paid plan; this account is on the ${planName} plan`,
    details: [{ field: feature, message: `needs a paid plan (current plan: ${planName})` }],
  });
}

export function tooManyRequests(retryAfterSeconds: number, message: string): ApiError {
  return new ApiError({
    statusCode: 429,
    code: 'RATE_LIMITED',
    message,
    headers: { 'retry-after': String(retryAfterSeconds) },
  });
}

/** Thrown by storage when a unique constraint (email, policy-group name) is hit. */
export class UniqueViolationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UniqueViolationError';
  }
}
