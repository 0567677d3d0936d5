import type { ApiRequest } from './api-server.js';
import type { FunctionError } from './types.js';

export function headerOf(request: ApiRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Reads an error report (`init/error`, `invocation/{id}/error`, `exit/error`): the type from the
 * given header, else the body's `errorType`; the message and trace from the body.
 */
export function parseErrorBody(request: ApiRequest, typeHeader: string): FunctionError {
  const json = (request.json ?? {}) as Record<string, unknown>;
  const errorType =
    headerOf(request, typeHeader) ?? (typeof json.errorType === 'string' ? json.errorType : 'Unknown');
  const errorMessage =
    typeof json.errorMessage === 'string' ? json.errorMessage : request.body.toString('utf8').slice(0, 1000);
  const trace = Array.isArray(json.trace)
    ? json.trace.map(String)
    : Array.isArray(json.stackTrace)
      ? json.stackTrace.map(String)
      : undefined;
  return { errorType, errorMessage, ...(trace ? { trace } : {}) };
}
