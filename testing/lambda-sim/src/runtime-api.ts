import { parseErrorBody } from './api-errors.js';
import { type ApiRequest, apiError, MAX_PAYLOAD_BYTES, type Reply } from './api-server.js';
import type { FunctionError } from './types.js';

export type InvocationOutcome =
  | { ok: true; result: unknown }
  | { ok: false; status: 'error' | 'failure'; error: FunctionError };

/** One event on its way through the runtime. */
export interface Invocation {
  requestId: string;
  body: string;
  deadlineEpochMs: number;
  traceId: string;
  clientContext: string | undefined;
  cognitoIdentity: string | undefined;
  sentToRuntime: boolean;
  /** performance.now() times */
  startedAt: number;
  answeredAt: number | undefined;
  outcome: InvocationOutcome | undefined;
  /** Size of the response or error body the runtime posted. */
  producedBytes: number;
}

export interface RuntimeApiContext {
  /** True during Init until the runtime's first `next`: the only time `init/error` is accepted. */
  isInitializing(): boolean;
  functionArn(): string;
  onInitError(error: FunctionError): void;
  /** The invocation has its outcome (from the runtime, or from a crash or timeout). */
  onAnswer(invocation: Invocation): void;
  changed(): void;
}

/**
 * The Runtime API (2018-06-01) for the one runtime process: the long-polled `next`, and the
 * `response` / `error` / `init/error` it posts. https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
 */
export class RuntimeApi {
  /** The runtime is waiting in `next` (since Init, or since it answered the last invocation). */
  hasCalledNext = false;
  private pendingNext: Reply | undefined;
  private invocation: Invocation | undefined;

  constructor(private readonly context: RuntimeApiContext) {}

  /** Forgets the previous runtime process, for a new Init. */
  reset(): void {
    this.hasCalledNext = false;
    this.pendingNext = undefined;
    this.invocation = undefined;
  }

  /** Hands an invocation to the runtime now, or at its next `next`. */
  dispatch(invocation: Invocation): void {
    this.invocation = invocation;
    this.sendPendingInvocation();
  }

  /** The invocation is over: late posts for it get InvalidRequestID. */
  finish(): void {
    this.invocation = undefined;
  }

  /** Records an invocation's outcome (the runtime's answer, or Lambda's verdict on a crash or timeout). */
  answer(invocation: Invocation, outcome: InvocationOutcome): void {
    invocation.outcome = outcome;
    invocation.answeredAt = performance.now();
    this.context.onAnswer(invocation);
    this.context.changed();
  }

  next(reply: Reply): void {
    this.hasCalledNext = true;
    this.pendingNext = reply;
    this.sendPendingInvocation();
    this.context.changed();
  }

  response(requestId: string, request: ApiRequest, reply: Reply): void {
    const invocation = this.invocationFor(requestId, reply);
    if (!invocation) return;
    invocation.producedBytes = request.body.length;
    if (request.body.length > MAX_PAYLOAD_BYTES) {
      apiError(reply, 413, 'RequestEntityTooLarge', `response payload exceeds ${MAX_PAYLOAD_BYTES} bytes`);
      this.answer(invocation, {
        ok: false,
        status: 'error',
        error: {
          errorType: 'Function.ResponseSizeTooLarge',
          errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_PAYLOAD_BYTES} bytes).`,
        },
      });
      return;
    }
    reply(202, { status: 'OK' });
    const result = request.json !== undefined ? request.json : request.body.toString('utf8');
    this.answer(invocation, { ok: true, result });
  }

  error(requestId: string, request: ApiRequest, reply: Reply): void {
    const invocation = this.invocationFor(requestId, reply);
    if (!invocation) return;
    invocation.producedBytes = request.body.length;
    reply(202, { status: 'OK' });
    const error = parseErrorBody(request, 'lambda-runtime-function-error-type');
    this.answer(invocation, { ok: false, status: 'error', error });
  }

  initError(request: ApiRequest, reply: Reply): void {
    if (!this.context.isInitializing() || this.hasCalledNext) {
      apiError(
        reply,
        403,
        'InvalidStateTransition',
        'init/error is only valid during Init, before the first next',
      );
      return;
    }
    reply(202, { status: 'OK' });
    this.context.onInitError(parseErrorBody(request, 'lambda-runtime-function-error-type'));
    this.context.changed();
  }

  private invocationFor(requestId: string, reply: Reply): Invocation | undefined {
    const invocation = this.invocation;
    if (!invocation || invocation.requestId !== requestId || !invocation.sentToRuntime) {
      apiError(reply, 400, 'InvalidRequestID', `no invocation ${requestId} is in progress`);
      return undefined;
    }
    if (invocation.outcome) {
      apiError(reply, 403, 'InvalidStateTransition', `invocation ${requestId} was answered already`);
      return undefined;
    }
    return invocation;
  }

  private sendPendingInvocation(): void {
    const invocation = this.invocation;
    const reply = this.pendingNext;
    if (!invocation || invocation.sentToRuntime || !reply || reply.closed) return;
    this.pendingNext = undefined;
    this.hasCalledNext = false;
    invocation.sentToRuntime = true;
    const headers: Record<string, string> = {
      'Lambda-Runtime-Aws-Request-Id': invocation.requestId,
      'Lambda-Runtime-Deadline-Ms': String(invocation.deadlineEpochMs),
      'Lambda-Runtime-Invoked-Function-Arn': this.context.functionArn(),
      'Lambda-Runtime-Trace-Id': invocation.traceId,
    };
    if (invocation.clientContext) headers['Lambda-Runtime-Client-Context'] = invocation.clientContext;
    if (invocation.cognitoIdentity) headers['Lambda-Runtime-Cognito-Identity'] = invocation.cognitoIdentity;
    reply(200, invocation.body, headers);
  }
}
