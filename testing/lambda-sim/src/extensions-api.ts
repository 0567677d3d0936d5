import { randomUUID } from 'node:crypto';
import { headerOf, parseErrorBody } from './api-errors.js';
import { type ApiRequest, apiError, type Reply } from './api-server.js';
import type { ManagedProcess } from './managed-process.js';
import type { TelemetryHub } from './telemetry.js';
import type { FunctionError } from './types.js';

export const EXTENSION_EVENTS = ['INVOKE', 'SHUTDOWN'] as const;
export type ExtensionEventType = (typeof EXTENSION_EVENTS)[number];

export interface Extension {
  id: string;
  name: string;
  events: Set<ExtensionEventType>;
  /** The held `event/next` request, when the extension is waiting for an event. */
  pendingNext: Reply | undefined;
  queue: object[];
  /** The launched executable of the same name, when there is one. */
  process: ManagedProcess | undefined;
  /** Its process has exited. */
  gone: boolean;
  /** Registered from the runtime process (after the runtime started, with no executable of its name). */
  internal: boolean;
}

export interface ExtensionsApiContext {
  isInitializing(): boolean;
  /** The runtime has started: from now on, registrations of names with no executable are internal extensions. */
  runtimeStarted(): boolean;
  /** The register answer: functionName, functionVersion, handler (and accountId on request). */
  functionInfo(): { functionName: string; functionVersion: string; handler: string; accountId: string };
  launchedProcess(name: string): ManagedProcess | undefined;
  telemetry: TelemetryHub;
  onInitError(source: string, error: FunctionError): void;
  onExitError(source: string, error: FunctionError): void;
  changed(): void;
}

/**
 * The Extensions API (2020-01-01) and the Telemetry API subscription, per registered extension:
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html
 */
export class ExtensionsApi {
  private extensions = new Map<string, Extension>();

  constructor(private readonly context: ExtensionsApiContext) {}

  /** Forgets every registration, for a new Init. */
  reset(): void {
    this.extensions = new Map();
  }

  all(): Extension[] {
    return [...this.extensions.values()];
  }

  ofProcess(managed: ManagedProcess): Extension | undefined {
    return this.all().find((extension) => extension.process === managed);
  }

  /** Waiting in `next` with nothing queued: ready for Lambda to freeze it. */
  isWaiting(extension: Extension): boolean {
    return (
      extension.pendingNext !== undefined && !extension.pendingNext.closed && extension.queue.length === 0
    );
  }

  /** Answers the extension's held `next` with the event, or queues it for its next call. */
  send(extension: Extension, event: object): void {
    const reply = extension.pendingNext;
    extension.pendingNext = undefined;
    if (reply && !reply.closed && extension.queue.length === 0) {
      reply(200, event, { 'Lambda-Extension-Event-Identifier': randomUUID() });
    } else {
      extension.queue.push(event);
    }
  }

  register(request: ApiRequest, reply: Reply): void {
    const name = headerOf(request, 'lambda-extension-name');
    if (!name) {
      apiError(reply, 400, 'Extension.InvalidRequest', 'Lambda-Extension-Name header is required');
      return;
    }
    if (!this.context.isInitializing()) {
      apiError(reply, 403, 'Extension.RegistrationClosed', 'extensions can only register during Init');
      return;
    }
    if (this.all().some((extension) => extension.name === name)) {
      apiError(reply, 409, 'Extension.AlreadyRegistered', `an extension named ${name} is registered already`);
      return;
    }
    const events = (request.json as { events?: unknown } | undefined)?.events ?? [];
    if (!Array.isArray(events) || !events.every((event) => EXTENSION_EVENTS.includes(event))) {
      const message = `events must be a list of ${EXTENSION_EVENTS.join(', ')}`;
      apiError(reply, 400, 'Extension.InvalidEventType', message);
      return;
    }
    const launched = this.context.launchedProcess(name);
    const internal = !launched && this.context.runtimeStarted();
    // An internal extension (in the runtime process) is stopped with the runtime, so Lambda refuses it SHUTDOWN.
    if (internal && events.includes('SHUTDOWN')) {
      const message = 'internal extensions (registered by the runtime process) cannot register for SHUTDOWN';
      apiError(reply, 400, 'Extension.InvalidEventType', message);
      return;
    }
    const extension: Extension = {
      id: randomUUID(),
      name,
      events: new Set(events as ExtensionEventType[]),
      pendingNext: undefined,
      queue: [],
      process: launched,
      gone: false,
      internal,
    };
    this.extensions.set(extension.id, extension);
    this.context.telemetry.emit('platform', 'platform.extension', {
      name,
      state: 'Ready',
      events: [...extension.events],
    });
    const { accountId, ...info } = this.context.functionInfo();
    // accountId is an opt-in feature of the register API (Lambda-Extension-Accept-Feature: accountId).
    const features = (headerOf(request, 'lambda-extension-accept-feature') ?? '')
      .split(',')
      .map((f) => f.trim());
    const body = features.includes('accountId') ? { ...info, accountId } : info;
    reply(200, body, { 'Lambda-Extension-Identifier': extension.id });
    this.context.changed();
  }

  next(extensionId: string, reply: Reply): void {
    const extension = this.byId(extensionId, reply);
    if (!extension) return;
    const event = extension.queue.shift();
    if (event) reply(200, event, { 'Lambda-Extension-Event-Identifier': randomUUID() });
    else extension.pendingNext = reply;
    this.context.changed();
  }

  initError(extensionId: string, request: ApiRequest, reply: Reply): void {
    const extension = this.byId(extensionId, reply);
    if (!extension) return;
    if (!this.context.isInitializing()) {
      apiError(reply, 403, 'InvalidStateTransition', 'init/error is only valid during Init');
      return;
    }
    reply(202, { status: 'OK' });
    const error = parseErrorBody(request, 'lambda-extension-function-error-type');
    this.context.onInitError(`extension:${extension.name}`, error);
    this.context.changed();
  }

  exitError(extensionId: string, request: ApiRequest, reply: Reply): void {
    const extension = this.byId(extensionId, reply);
    if (!extension) return;
    reply(202, { status: 'OK' });
    const error = parseErrorBody(request, 'lambda-extension-function-error-type');
    this.context.onExitError(`extension:${extension.name}`, error);
    this.context.changed();
  }

  subscribeTelemetry(extensionId: string, request: ApiRequest, reply: Reply): void {
    const extension = this.byId(extensionId, reply);
    if (!extension) return;
    const rejection = this.context.telemetry.subscribe(extension.name, request.json);
    if (rejection) {
      apiError(reply, rejection.status, rejection.errorType, rejection.errorMessage);
      return;
    }
    reply(200, 'OK', { 'content-type': 'text/plain' });
  }

  private byId(extensionId: string, reply: Reply): Extension | undefined {
    const extension = this.extensions.get(extensionId);
    if (!extension) {
      apiError(
        reply,
        403,
        'Extension.UnknownExtensionIdentifier',
        `no extension has identifier ${extensionId}`,
      );
    }
    return extension;
  }
}
