/**
 * Client of the Lambda Extensions API and Telemetry API subscription, as AWS documents them:
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html
 * https://docs.aws.amazon.com/lambda/latest/dg/telemetry-api-reference.html
 * Everything coming back is validated: a malformed answer is an error, never a guess.
 */
import { ExtensionError } from './errors.js';
import { type HttpResponse, httpRequest } from './http-client.js';

export interface RegisterInfo {
  extensionId: string;
  functionName?: string;
  functionVersion?: string;
  handler?: string;
  /** Only sent when asked for with `Lambda-Extension-Accept-Feature: accountId`. */
  accountId?: string;
}

export type LifecycleEvent =
  | { eventType: 'INVOKE'; requestId: string; deadlineMs: number; invokedFunctionArn?: string }
  | { eventType: 'SHUTDOWN'; shutdownReason: string; deadlineMs: number };

const REGISTER_TIMEOUT_MS = 5000;

function apiUrl(lambdaApi: string, path: string): URL {
  return new URL(`http://${lambdaApi}${path}`);
}

function fail(what: string, response: HttpResponse): never {
  throw new ExtensionError(
    'LAMBDA_API_FAILED',
    `${what} failed with status ${response.status}: ${response.body.slice(0, 200)}`,
  );
}

function optionalString(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Parses the register response body (also the body the launcher hands over after early registration).
 * @throws ExtensionError LAMBDA_API_FAILED when the body is not a JSON object.
 */
export function parseRegisterBody(extensionId: string, body: string): RegisterInfo {
  let parsed: unknown;
  try {
    parsed = body.trim() === '' ? {} : JSON.parse(body);
  } catch (cause) {
    throw new ExtensionError('LAMBDA_API_FAILED', 'register response is not JSON', { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ExtensionError('LAMBDA_API_FAILED', 'register response is not a JSON object');
  }
  const record = parsed as Record<string, unknown>;
  const info: RegisterInfo = { extensionId };
  for (const key of ['functionName', 'functionVersion', 'handler', 'accountId'] as const) {
    const value = optionalString(record, key);
    if (value !== undefined) info[key] = value;
  }
  return info;
}

/** Registers for INVOKE and SHUTDOWN; the name must be the launcher's file name. */
export async function register(lambdaApi: string, extensionName: string): Promise<RegisterInfo> {
  const response = await httpRequest({
    method: 'POST',
    url: apiUrl(lambdaApi, '/2020-01-01/extension/register'),
    headers: {
      'content-type': 'application/json',
      'lambda-extension-name': extensionName,
      'lambda-extension-accept-feature': 'accountId',
    },
    body: JSON.stringify({ events: ['INVOKE', 'SHUTDOWN'] }),
    timeoutMs: REGISTER_TIMEOUT_MS,
  });
  if (response.status !== 200) fail('register', response);
  const header = response.headers['lambda-extension-identifier'];
  const extensionId = Array.isArray(header) ? header[0] : header;
  if (!extensionId)
    throw new ExtensionError('LAMBDA_API_FAILED', 'register response has no Lambda-Extension-Identifier');
  return parseRegisterBody(extensionId, response.body);
}

/** Parses one event/next body. */
export function parseLifecycleEvent(body: string): LifecycleEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    throw new ExtensionError('LAMBDA_API_FAILED', 'event/next body is not JSON', { cause });
  }
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const deadlineMs = typeof record.deadlineMs === 'number' ? record.deadlineMs : Date.now() + 2000;
  if (record.eventType === 'INVOKE') {
    if (typeof record.requestId !== 'string' || record.requestId === '') {
      throw new ExtensionError('LAMBDA_API_FAILED', 'INVOKE event without requestId');
    }
    const event: LifecycleEvent = { eventType: 'INVOKE', requestId: record.requestId, deadlineMs };
    const arn = optionalString(record, 'invokedFunctionArn');
    if (arn) event.invokedFunctionArn = arn;
    return event;
  }
  if (record.eventType === 'SHUTDOWN') {
    return {
      eventType: 'SHUTDOWN',
      shutdownReason: optionalString(record, 'shutdownReason') ?? 'unknown',
      deadlineMs,
    };
  }
  throw new ExtensionError('LAMBDA_API_FAILED', `unknown eventType ${JSON.stringify(record.eventType)}`);
}

/** Blocks until Lambda sends the next lifecycle event (the environment may be frozen meanwhile). */
export async function nextEvent(lambdaApi: string, extensionId: string): Promise<LifecycleEvent> {
  const response = await httpRequest({
    method: 'GET',
    url: apiUrl(lambdaApi, '/2020-01-01/extension/event/next'),
    headers: { 'lambda-extension-identifier': extensionId },
  });
  if (response.status !== 200) fail('event/next', response);
  return parseLifecycleEvent(response.body);
}

/**
 * Subscribes to platform telemetry (for platform.runtimeDone), delivered with a short buffer so the
 * end of an invocation is known within tens of milliseconds.
 */
export async function subscribeTelemetry(
  lambdaApi: string,
  extensionId: string,
  destinationUri: string,
): Promise<void> {
  const response = await httpRequest({
    method: 'PUT',
    url: apiUrl(lambdaApi, '/2022-07-01/telemetry'),
    headers: { 'content-type': 'application/json', 'lambda-extension-identifier': extensionId },
    body: JSON.stringify({
      schemaVersion: '2022-12-13',
      types: ['platform'],
      buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25 },
      destination: { protocol: 'HTTP', URI: destinationUri },
    }),
    timeoutMs: REGISTER_TIMEOUT_MS,
  });
  if (response.status !== 200) fail('telemetry subscribe', response);
}
