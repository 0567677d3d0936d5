/**
 * The request id of the invocation in progress, for events.
 *
 * The Lambda Node.js runtime interface client (aws-lambda-ric ≥ 3.3, the managed nodejs20.x/22.x
 * runtimes) keeps the current invocation in `@aws/lambda-invoke-store`, published as
 * `globalThis.awslambda.InvokeStore` (`getRequestId()` gives `-` between invocations; with
 * AWS_LAMBDA_MAX_CONCURRENCY it is per async context). That is the same source the runtime's own
 * log lines use, so events and the function's logs agree. Older clients only set the X-Ray trace
 * header per invocation, `process.env._X_AMZN_TRACE_ID`, which we add as `traceId`.
 */

interface InvokeStoreLike {
  getRequestId(): string | undefined;
}

export interface InvocationIds {
  requestId?: string;
  traceId?: string;
}

export function currentInvocation(): InvocationIds {
  const ids: InvocationIds = {};
  try {
    const store = (globalThis as { awslambda?: { InvokeStore?: InvokeStoreLike } }).awslambda?.InvokeStore;
    const requestId = typeof store?.getRequestId === 'function' ? store.getRequestId() : undefined;
    if (typeof requestId === 'string' && requestId !== '-' && requestId !== '') ids.requestId = requestId;
  } catch {
    // a broken store never breaks the event
  }
  try {
    const traceId = process.env._X_AMZN_TRACE_ID;
    if (typeof traceId === 'string' && traceId) ids.traceId = traceId;
  } catch {
    // an app that replaced process.env with something that throws loses the trace id, not the event
  }
  return ids;
}
