import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  type ApiHandlers,
  type ApiRequest,
  apiError,
  createApiServer,
  MAX_PAYLOAD_BYTES,
  type Reply,
} from './api-server.js';
import { buildExtensionEnv, buildRuntimeEnv } from './environment.js';
import { type InitFailure, LambdaInitError, LambdaSimError } from './errors.js';
import { ManagedProcess, type ProcessExit } from './managed-process.js';
import type { LogEntry, ResolvedOptions } from './options.js';
import { functionArn, newTraceId, readProcessMemory, reportLine, tracingOf } from './platform-records.js';
import { TelemetryHub } from './telemetry.js';

/** Lambda's budget for the Shutdown phase when external extensions are registered. */
const SHUTDOWN_BUDGET_MS = 2000;
const EXTENSION_EVENTS = ['INVOKE', 'SHUTDOWN'] as const;
type ExtensionEventType = (typeof EXTENSION_EVENTS)[number];

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

interface Extension {
  id: string;
  name: string;
  events: Set<ExtensionEventType>;
  /** The held `event/next` request, when the extension is waiting for an event. */
  pendingNext: Reply | undefined;
  queue: object[];
  process: ManagedProcess | undefined;
  gone: boolean;
}

interface Invocation {
  requestId: string;
  body: string;
  deadlineEpochMs: number;
  traceId: string;
  clientContext: string | undefined;
  cognitoIdentity: string | undefined;
  sentToRuntime: boolean;
  startedAt: number;
  answeredAt: number | undefined;
  outcome:
    | { ok: true; result: unknown }
    | { ok: false; status: 'error' | 'failure'; error: FunctionError }
    | undefined;
}

type Phase = 'created' | 'init' | 'ready' | 'invoke' | 'shutdown' | 'stopped';

/**
 * One Lambda execution environment: the APIs, the processes, and the Init / Invoke / Shutdown
 * lifecycle as https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html describes it.
 */
export class LambdaEnvironment implements ApiHandlers {
  readonly logs: string[] = [];
  readonly logEntries: LogEntry[] = [];
  readonly errors: EnvironmentError[] = [];
  runtimeApi = '';
  initDurationMs = 0;

  private readonly server: Server;
  private readonly telemetry: TelemetryHub;
  private phase: Phase = 'created';
  private runtimeEnv: Record<string, string> = {};
  private extensions = new Map<string, Extension>();
  private launchedExtensions: ManagedProcess[] = [];
  private runtime: ManagedProcess | undefined;
  private runtimeNextReply: Reply | undefined;
  private runtimeHasCalledNext = false;
  private initFailure: InitFailure | undefined;
  private invocation: Invocation | undefined;
  private resetReason: ShutdownReason | undefined;
  private reportInitDuration = false;
  private readonly waiters = new Set<() => void>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly killOnExit = () => this.killAll();

  constructor(private readonly options: ResolvedOptions) {
    this.server = createApiServer(this);
    this.telemetry = new TelemetryHub((line) => this.platformLog(line));
  }

  /** Listens on loopback, then runs the Init phase; rejects with LambdaInitError when Init fails. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.runtimeApi = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    // Stopped children must never outlive the test process that froze them.
    process.once('exit', this.killOnExit);
    try {
      await this.init();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** Runs one invocation; concurrent calls queue, as one environment serves one event at a time. */
  invoke(payload: unknown, options: InvokeOptions = {}): Promise<InvokeResult> {
    let body: string;
    try {
      body = serializePayload(payload);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.queue.then(() => this.runInvocation(body, options));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The Shutdown phase (after any running invocation): SHUTDOWN to extensions, SIGKILL after 2 s. */
  shutdown(reason: ShutdownReason = 'spindown'): Promise<ShutdownResult> {
    const run = this.queue.then(async () => {
      if (this.phase === 'stopped') return { extensionsExited: true, killed: [] };
      const result = await this.stopProcesses(reason);
      await this.close();
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** RSS of each running process of the environment (Linux /proc). */
  memoryUsage(): ProcessMemory[] {
    const usage: ProcessMemory[] = [];
    for (const managed of [this.runtime, ...this.launchedExtensions]) {
      if (!managed?.running || managed.pid === undefined) continue;
      const memory = readProcessMemory(managed.pid);
      if (memory) usage.push({ source: managed.source, pid: managed.pid, ...memory });
    }
    return usage;
  }

  // ---------------------------------------------------------------- lifecycle

  private async init(): Promise<void> {
    this.phase = 'init';
    this.initFailure = undefined;
    this.runtimeHasCalledNext = false;
    this.extensions = new Map();
    const startedAt = performance.now();
    const deadline = startedAt + this.options.initTimeoutMs;
    this.runtimeEnv = buildRuntimeEnv(this.options, this.runtimeApi);
    this.telemetry.beginInit();
    this.platformLog(`INIT_START Runtime Version: ${this.runtimeVersion()}`);
    this.telemetry.emit('platform', 'platform.initStart', {
      initializationType: 'on-demand',
      phase: 'init',
      runtimeVersion: this.runtimeVersion(),
      functionName: this.options.functionName,
      functionVersion: this.options.functionVersion,
    });

    this.launchedExtensions = this.launchExtensions();
    let completed = await this.waitUntil(
      () =>
        this.initFailure !== undefined ||
        this.launchedExtensions.every((managed) => this.extensionOf(managed) !== undefined),
      deadline,
    );
    if (completed && !this.initFailure) {
      this.runtime = this.launchRuntime();
      completed = await this.waitUntil(
        () =>
          this.initFailure !== undefined ||
          (this.runtimeHasCalledNext &&
            [...this.extensions.values()].every((extension) => this.isWaiting(extension))),
        deadline,
      );
    }
    if (!completed && !this.initFailure) {
      this.initFailure = {
        source: this.runtime && !this.runtimeHasCalledNext ? 'runtime' : 'extension',
        errorType: 'Sandbox.Timedout',
        errorMessage: `Init did not complete within ${this.options.initTimeoutMs} ms (${this.describeInitProgress()})`,
      };
    }
    this.initDurationMs = performance.now() - startedAt;
    const failure = this.initFailure;
    const status = failure ? (failure.errorType === 'Sandbox.Timedout' ? 'timeout' : 'error') : 'success';
    this.telemetry.emit('platform', 'platform.initRuntimeDone', {
      initializationType: 'on-demand',
      phase: 'init',
      status,
      ...(failure ? { errorType: failure.errorType } : {}),
    });
    this.telemetry.emit('platform', 'platform.initReport', {
      initializationType: 'on-demand',
      phase: 'init',
      status,
      ...(failure ? { errorType: failure.errorType } : {}),
      metrics: { durationMs: round(this.initDurationMs) },
    });
    this.telemetry.endInit();
    if (failure) {
      this.platformLog(
        `INIT_REPORT Init Duration: ${this.initDurationMs.toFixed(2)} ms\tPhase: init\tStatus: ${status}\tError Type: ${failure.errorType}`,
      );
      this.errors.push({ ...failure, timeMs: Date.now() });
      await this.stopProcesses('failure');
      this.resetReason = 'failure';
      throw new LambdaInitError(failure, [...this.logs]);
    }
    this.resetReason = undefined;
    this.reportInitDuration = true;
    this.phase = 'ready';
    this.freeze();
  }

  private async runInvocation(body: string, options: InvokeOptions): Promise<InvokeResult> {
    if (this.phase === 'stopped' || this.phase === 'shutdown') {
      throw new LambdaSimError(
        'NOT_RUNNING',
        'the environment is shut down; start a new one with startLambda',
      );
    }
    let initDurationMs: number | undefined;
    if (this.resetReason) {
      // A process died while frozen (or Init failed): Lambda discards the environment and starts a new one.
      if (this.runtime || this.launchedExtensions.length > 0) await this.stopProcesses(this.resetReason);
      try {
        await this.init();
        initDurationMs = this.initDurationMs;
      } catch (error) {
        if (!(error instanceof LambdaInitError)) throw error;
        return {
          requestId: randomUUID(),
          ok: false,
          status: 'failure',
          error: { errorType: error.errorType, errorMessage: error.message },
          durationMs: 0,
          postRuntimeDurationMs: 0,
          reset: 'failure',
          initDurationMs: this.initDurationMs,
        };
      }
    }
    this.phase = 'invoke';
    this.thaw();
    const startedAt = performance.now();
    const deadline = startedAt + this.options.timeoutMs;
    const invocation: Invocation = {
      requestId: randomUUID(),
      body,
      deadlineEpochMs: Date.now() + this.options.timeoutMs,
      traceId: newTraceId(),
      clientContext: options.clientContext ? JSON.stringify(options.clientContext) : undefined,
      cognitoIdentity: options.cognitoIdentity ? JSON.stringify(options.cognitoIdentity) : undefined,
      sentToRuntime: false,
      startedAt,
      answeredAt: undefined,
      outcome: undefined,
    };
    this.invocation = invocation;
    const { requestId } = invocation;
    this.platformLog(`START RequestId: ${requestId} Version: ${this.options.functionVersion}`);
    this.telemetry.emit('platform', 'platform.start', {
      requestId,
      version: this.options.functionVersion,
      tracing: tracingOf(invocation.traceId),
    });
    // The runtime first: Lambda hands the event to both at once, and the caller waits on the runtime.
    this.sendInvocationToRuntime();
    for (const extension of this.extensions.values()) {
      if (extension.gone || !extension.events.has('INVOKE')) continue;
      this.sendExtensionEvent(extension, {
        eventType: 'INVOKE',
        deadlineMs: invocation.deadlineEpochMs,
        requestId,
        invokedFunctionArn: this.functionArn(),
        tracing: tracingOf(invocation.traceId),
      });
    }

    const answered = await this.waitUntil(() => invocation.outcome !== undefined, deadline);
    const answeredAt = invocation.answeredAt ?? performance.now();
    const settled = await this.waitUntil(
      () =>
        (this.runtimeHasCalledNext || this.runtime?.exit !== undefined) &&
        [...this.extensions.values()].every(
          (extension) => extension.gone || !extension.events.has('INVOKE') || this.isWaiting(extension),
        ),
      deadline,
    );
    const settledAt = performance.now();
    this.invocation = undefined;

    let status: InvokeResult['status'];
    let outcome = invocation.outcome;
    if (!answered || !outcome) {
      status = 'timeout';
      outcome = {
        ok: false,
        status: 'failure',
        error: {
          errorType: 'Sandbox.Timedout',
          errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(this.options.timeoutMs / 1000).toFixed(2)} seconds`,
        },
      };
      this.emitRuntimeDone(invocation, 'timeout', 'Sandbox.Timedout');
    } else if (!settled) {
      status = 'timeout';
    } else {
      status = outcome.ok ? 'success' : outcome.status;
    }
    const crashed =
      this.runtime?.exit !== undefined || [...this.extensions.values()].some((extension) => extension.gone);
    if (status !== 'timeout' && crashed) status = 'failure';
    const reset: ShutdownReason | undefined =
      status === 'timeout' ? 'timeout' : crashed ? 'failure' : undefined;

    const durationMs = answeredAt - startedAt;
    const postRuntimeDurationMs = Math.max(0, settledAt - answeredAt);
    const maxMemoryUsedMb = this.maxMemoryUsedMb();
    const errorType = outcome.ok ? undefined : outcome.error.errorType;
    this.telemetry.emit('platform', 'platform.report', {
      requestId,
      status,
      ...(errorType ? { errorType } : {}),
      metrics: {
        durationMs: round(settledAt - startedAt),
        billedDurationMs: Math.ceil(settledAt - startedAt),
        memorySizeMB: this.options.memoryMb,
        maxMemoryUsedMB: maxMemoryUsedMb,
        ...(this.reportInitDuration ? { initDurationMs: round(this.initDurationMs) } : {}),
      },
      tracing: tracingOf(invocation.traceId),
    });
    this.platformLog(`END RequestId: ${requestId}`);
    this.platformLog(
      reportLine({
        requestId,
        durationMs: settledAt - startedAt,
        memoryMb: this.options.memoryMb,
        maxMemoryUsedMb,
        initDurationMs: this.reportInitDuration ? this.initDurationMs : undefined,
        status,
      }),
    );
    this.reportInitDuration = false;

    const result: InvokeResult = {
      requestId,
      ok: outcome.ok,
      status,
      ...(outcome.ok ? { result: outcome.result } : { error: outcome.error }),
      durationMs,
      postRuntimeDurationMs,
      ...(reset ? { reset } : {}),
      ...(initDurationMs !== undefined ? { initDurationMs } : {}),
    };
    if (reset) {
      await this.stopProcesses(reset);
      this.resetReason = reset;
      this.phase = 'ready';
    } else {
      this.phase = 'ready';
      this.freeze();
    }
    return result;
  }

  /** Thaws, sends SHUTDOWN, waits up to 2 s for the processes to exit, SIGKILLs the rest. */
  private async stopProcesses(reason: ShutdownReason): Promise<ShutdownResult> {
    this.phase = 'shutdown';
    this.thaw();
    const deadline = performance.now() + SHUTDOWN_BUDGET_MS;
    // Telemetry held by the last freeze (e.g. the last platform.report) reaches listeners before SHUTDOWN.
    await Promise.race([this.telemetry.flush(), delay(SHUTDOWN_BUDGET_MS / 4)]);
    const shutdownTargets = [...this.extensions.values()].filter(
      (extension) => !extension.gone && extension.events.has('SHUTDOWN'),
    );
    for (const extension of shutdownTargets) {
      this.sendExtensionEvent(extension, {
        eventType: 'SHUTDOWN',
        shutdownReason: reason,
        deadlineMs: Date.now() + SHUTDOWN_BUDGET_MS,
      });
    }
    // The runtime gets SIGTERM when extensions are registered (Lambda's graceful shutdown).
    this.runtime?.signalGroup('SIGTERM');
    const awaited = [this.runtime, ...shutdownTargets.map((extension) => extension.process)].filter(
      (managed): managed is ManagedProcess => managed !== undefined,
    );
    const allExited = await this.waitUntil(
      () => awaited.every((managed) => managed.exit !== undefined),
      deadline,
    );
    const extensionsExited = shutdownTargets.every((extension) => extension.process?.exit !== undefined);
    const everything = [this.runtime, ...this.launchedExtensions].filter(
      (managed): managed is ManagedProcess => managed !== undefined,
    );
    const killed = everything.filter((managed) => managed.running).map((managed) => managed.source);
    if (!allExited || killed.length > 0) {
      for (const source of killed)
        this.platformLog(`SHUTDOWN: ${source} did not exit within ${SHUTDOWN_BUDGET_MS} ms, SIGKILL`);
    }
    // Leaders that exited may leave group members behind: kill every group.
    for (const managed of everything) managed.kill();
    await Promise.all(everything.map((managed) => Promise.race([managed.exited, delay(1000)])));
    this.telemetry.close();
    this.runtime = undefined;
    this.runtimeNextReply = undefined;
    this.launchedExtensions = [];
    return { extensionsExited, killed };
  }

  private async close(): Promise<void> {
    this.phase = 'stopped';
    process.removeListener('exit', this.killOnExit);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const waiter of this.waiters) waiter();
  }

  private killAll(): void {
    for (const managed of [this.runtime, ...this.launchedExtensions]) managed?.kill();
  }

  private freeze(): void {
    if (!this.options.freeze) return;
    this.telemetry.freeze();
    for (const managed of [this.runtime, ...this.launchedExtensions]) managed?.freeze();
  }

  private thaw(): void {
    for (const managed of [this.runtime, ...this.launchedExtensions]) managed?.thaw();
    this.telemetry.thaw();
  }

  // ---------------------------------------------------------------- processes

  private launchExtensions(): ManagedProcess[] {
    const directory = this.options.layerDir ? join(this.options.layerDir, 'extensions') : undefined;
    if (!directory || !existsSync(directory)) return [];
    const env = buildExtensionEnv(this.runtimeEnv);
    const launched: ManagedProcess[] = [];
    for (const name of readdirSync(directory).sort()) {
      const path = join(directory, name);
      const stat = statSync(path);
      if (!stat.isFile()) continue;
      if ((stat.mode & 0o111) === 0) {
        this.platformLog(`extension ${name} is not executable, skipped (Lambda starts executables only)`);
        continue;
      }
      const managed = this.startProcess(`extension:${name}`, path, [], env, this.options.layerDir ?? '/');
      launched.push(managed);
    }
    return launched;
  }

  /** Starts the runtime as Lambda does: `/var/runtime/bootstrap`, which execs the wrapper or node. */
  private launchRuntime(): ManagedProcess {
    const env = {
      ...this.runtimeEnv,
      _LAMBDA_SIM_NODE_MAJOR: this.options.runtime === 'nodejs22.x' ? '22' : '20',
      _LAMBDA_SIM_OPT: this.options.layerDir ?? '/opt',
    };
    return this.startProcess(
      'runtime',
      this.options.bootstrapPath,
      [this.options.nodeBinary],
      env,
      this.options.taskRoot,
    );
  }

  private startProcess(
    source: string,
    command: string,
    args: string[],
    env: Record<string, string>,
    cwd: string,
  ): ManagedProcess {
    const managed = new ManagedProcess({
      source,
      command,
      args,
      env,
      cwd,
      onLine: (entry) => this.capture(entry),
    });
    void managed.exited.then((exit) => this.onProcessExit(managed, exit));
    return managed;
  }

  private onProcessExit(managed: ManagedProcess, exit: ProcessExit): void {
    const how = exit.signal ? `signal: ${exit.signal}` : `exit status ${exit.code}`;
    const current = managed === this.runtime || this.launchedExtensions.includes(managed);
    if (!current || this.phase === 'shutdown' || this.phase === 'stopped') {
      this.notify();
      return;
    }
    if (managed === this.runtime) {
      const invocation = this.invocation;
      if (this.phase === 'init' && !this.initFailure) {
        this.initFailure = {
          source: 'runtime',
          errorType: 'Runtime.ExitError',
          errorMessage: `Runtime exited with error: ${how}`,
        };
      } else if (invocation && !invocation.outcome) {
        this.answer(invocation, {
          ok: false,
          status: 'failure',
          error: {
            errorType: 'Runtime.ExitError',
            errorMessage: `RequestId: ${invocation.requestId} Error: Runtime exited with error: ${how}`,
          },
        });
      }
      if (this.phase !== 'init') {
        this.errors.push({
          source: 'runtime',
          errorType: 'Runtime.ExitError',
          errorMessage: how,
          timeMs: Date.now(),
        });
        if (this.phase === 'ready') this.resetReason = 'failure';
      }
    } else {
      const extension = this.extensionOf(managed);
      if (extension) {
        extension.gone = true;
        this.telemetry.unsubscribe(extension.name);
      }
      const name = managed.source.slice('extension:'.length);
      if (this.phase === 'init' && !this.initFailure) {
        this.initFailure = {
          source: managed.source,
          errorType: 'Extension.Crash',
          errorMessage: `extension ${name} exited during Init (${how})`,
        };
      } else if (this.phase !== 'init') {
        this.errors.push({
          source: managed.source,
          errorType: 'Extension.Crash',
          errorMessage: `extension ${name} exited (${how})`,
          timeMs: Date.now(),
        });
        if (this.phase === 'ready') this.resetReason = 'failure';
      }
    }
    this.notify();
  }

  private capture(entry: LogEntry): void {
    this.logs.push(entry.line);
    this.logEntries.push(entry);
    this.options.echo?.(entry);
    if (entry.source === 'runtime') this.telemetry.emit('function', 'function', entry.line);
    else if (entry.source.startsWith('extension:')) this.telemetry.emit('extension', 'extension', entry.line);
  }

  private platformLog(line: string): void {
    const entry: LogEntry = { source: 'platform', stream: 'stdout', line, timeMs: Date.now() };
    this.logs.push(line);
    this.logEntries.push(entry);
    this.options.echo?.(entry);
  }

  // ---------------------------------------------------------------- Runtime API

  runtimeNext(reply: Reply): void {
    this.runtimeHasCalledNext = true;
    this.runtimeNextReply = reply;
    this.sendInvocationToRuntime();
    this.notify();
  }

  runtimeResponse(requestId: string, request: ApiRequest, reply: Reply): void {
    const invocation = this.invocationFor(requestId, reply);
    if (!invocation) return;
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
    const text = request.body.toString('utf8');
    this.answer(invocation, { ok: true, result: request.json !== undefined ? request.json : text });
  }

  runtimeError(requestId: string, request: ApiRequest, reply: Reply): void {
    const invocation = this.invocationFor(requestId, reply);
    if (!invocation) return;
    reply(202, { status: 'OK' });
    this.answer(invocation, {
      ok: false,
      status: 'error',
      error: parseErrorBody(request, 'lambda-runtime-function-error-type'),
    });
  }

  runtimeInitError(request: ApiRequest, reply: Reply): void {
    if (this.phase !== 'init' || this.runtimeHasCalledNext) {
      apiError(
        reply,
        403,
        'InvalidStateTransition',
        'init/error is only valid during Init, before the first next',
      );
      return;
    }
    reply(202, { status: 'OK' });
    const error = parseErrorBody(request, 'lambda-runtime-function-error-type');
    this.initFailure ??= { source: 'runtime', errorType: error.errorType, errorMessage: error.errorMessage };
    this.notify();
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

  private sendInvocationToRuntime(): void {
    const invocation = this.invocation;
    const reply = this.runtimeNextReply;
    if (!invocation || invocation.sentToRuntime || !reply || reply.closed) return;
    this.runtimeNextReply = undefined;
    this.runtimeHasCalledNext = false;
    invocation.sentToRuntime = true;
    const headers: Record<string, string> = {
      'Lambda-Runtime-Aws-Request-Id': invocation.requestId,
      'Lambda-Runtime-Deadline-Ms': String(invocation.deadlineEpochMs),
      'Lambda-Runtime-Invoked-Function-Arn': this.functionArn(),
      'Lambda-Runtime-Trace-Id': invocation.traceId,
    };
    if (invocation.clientContext) headers['Lambda-Runtime-Client-Context'] = invocation.clientContext;
    if (invocation.cognitoIdentity) headers['Lambda-Runtime-Cognito-Identity'] = invocation.cognitoIdentity;
    reply(200, invocation.body, headers);
  }

  private answer(invocation: Invocation, outcome: NonNullable<Invocation['outcome']>): void {
    invocation.outcome = outcome;
    invocation.answeredAt = performance.now();
    this.emitRuntimeDone(
      invocation,
      outcome.ok ? 'success' : outcome.status,
      outcome.ok ? undefined : outcome.error.errorType,
    );
    this.notify();
  }

  private emitRuntimeDone(invocation: Invocation, status: string, errorType: string | undefined): void {
    const durationMs = (invocation.answeredAt ?? performance.now()) - invocation.startedAt;
    this.telemetry.emit('platform', 'platform.runtimeDone', {
      requestId: invocation.requestId,
      status,
      ...(errorType ? { errorType } : {}),
      metrics: { durationMs: round(durationMs), producedBytes: 0 },
      tracing: tracingOf(invocation.traceId),
      spans: [],
    });
  }

  // ---------------------------------------------------------------- Extensions API

  extensionRegister(request: ApiRequest, reply: Reply): void {
    const name = headerOf(request, 'lambda-extension-name');
    if (!name) {
      apiError(reply, 400, 'Extension.InvalidRequest', 'Lambda-Extension-Name header is required');
      return;
    }
    if (this.phase !== 'init' || this.runtime !== undefined) {
      apiError(
        reply,
        403,
        'Extension.RegistrationClosed',
        'extensions can only register during Init, before the runtime starts',
      );
      return;
    }
    if ([...this.extensions.values()].some((extension) => extension.name === name)) {
      apiError(reply, 409, 'Extension.AlreadyRegistered', `an extension named ${name} is registered already`);
      return;
    }
    const body = request.json as { events?: unknown } | undefined;
    const events = body?.events ?? [];
    if (!Array.isArray(events) || !events.every((event) => EXTENSION_EVENTS.includes(event))) {
      apiError(
        reply,
        400,
        'Extension.InvalidEventType',
        `events must be a list of ${EXTENSION_EVENTS.join(', ')}`,
      );
      return;
    }
    const extension: Extension = {
      id: randomUUID(),
      name,
      events: new Set(events as ExtensionEventType[]),
      pendingNext: undefined,
      queue: [],
      process: this.launchedExtensions.find((managed) => managed.source === `extension:${name}`),
      gone: false,
    };
    this.extensions.set(extension.id, extension);
    this.telemetry.emit('platform', 'platform.extension', {
      name,
      state: 'Ready',
      events: [...extension.events],
    });
    // accountId is an opt-in feature of the register API (Lambda-Extension-Accept-Feature: accountId).
    const features = (headerOf(request, 'lambda-extension-accept-feature') ?? '')
      .split(',')
      .map((f) => f.trim());
    reply(
      200,
      {
        functionName: this.options.functionName,
        functionVersion: this.options.functionVersion,
        handler: this.options.handler,
        ...(features.includes('accountId') ? { accountId: this.options.accountId } : {}),
      },
      { 'Lambda-Extension-Identifier': extension.id },
    );
    this.notify();
  }

  extensionNext(extensionId: string, reply: Reply): void {
    const extension = this.extensionById(extensionId, reply);
    if (!extension) return;
    const event = extension.queue.shift();
    if (event) {
      reply(200, event, { 'Lambda-Extension-Event-Identifier': randomUUID() });
    } else {
      extension.pendingNext = reply;
    }
    this.notify();
  }

  extensionInitError(extensionId: string, request: ApiRequest, reply: Reply): void {
    const extension = this.extensionById(extensionId, reply);
    if (!extension) return;
    if (this.phase !== 'init') {
      apiError(reply, 403, 'InvalidStateTransition', 'init/error is only valid during Init');
      return;
    }
    reply(202, { status: 'OK' });
    const error = parseErrorBody(request, 'lambda-extension-function-error-type');
    this.initFailure ??= {
      source: `extension:${extension.name}`,
      errorType: error.errorType,
      errorMessage: error.errorMessage,
    };
    this.notify();
  }

  extensionExitError(extensionId: string, request: ApiRequest, reply: Reply): void {
    const extension = this.extensionById(extensionId, reply);
    if (!extension) return;
    reply(202, { status: 'OK' });
    const error = parseErrorBody(request, 'lambda-extension-function-error-type');
    this.errors.push({ source: `extension:${extension.name}`, ...error, timeMs: Date.now() });
    this.platformLog(
      `extension ${extension.name} reported exit error ${error.errorType}: ${error.errorMessage}`,
    );
    this.notify();
  }

  telemetrySubscribe(extensionId: string, request: ApiRequest, reply: Reply): void {
    const extension = this.extensionById(extensionId, reply);
    if (!extension) return;
    const rejection = this.telemetry.subscribe(extension.name, request.json);
    if (rejection) {
      apiError(reply, rejection.status, rejection.errorType, rejection.errorMessage);
      return;
    }
    reply(200, 'OK', { 'content-type': 'text/plain' });
  }

  private extensionById(extensionId: string, reply: Reply): Extension | undefined {
    const extension = this.extensions.get(extensionId);
    if (!extension)
      apiError(
        reply,
        403,
        'Extension.UnknownExtensionIdentifier',
        `no extension has identifier ${extensionId}`,
      );
    return extension;
  }

  private extensionOf(managed: ManagedProcess): Extension | undefined {
    for (const extension of this.extensions.values()) if (extension.process === managed) return extension;
    return undefined;
  }

  private isWaiting(extension: Extension): boolean {
    return (
      extension.pendingNext !== undefined && !extension.pendingNext.closed && extension.queue.length === 0
    );
  }

  private sendExtensionEvent(extension: Extension, event: object): void {
    const reply = extension.pendingNext;
    extension.pendingNext = undefined;
    if (reply && !reply.closed && extension.queue.length === 0) {
      reply(200, event, { 'Lambda-Extension-Event-Identifier': randomUUID() });
    } else {
      extension.queue.push(event);
    }
  }

  // ---------------------------------------------------------------- helpers

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves true once `condition` holds (checked at every state change), false at the deadline. */
  private waitUntil(condition: () => boolean, deadline: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (value: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const check = (): void => {
        if (condition()) finish(true);
        else if (this.phase === 'stopped') finish(false);
      };
      const timer = setTimeout(() => finish(condition()), Math.max(0, deadline - performance.now()));
      this.waiters.add(check);
    });
  }

  private describeInitProgress(): string {
    const unregistered = this.launchedExtensions
      .filter((managed) => this.extensionOf(managed) === undefined)
      .map((managed) => managed.source);
    if (unregistered.length > 0) return `not registered: ${unregistered.join(', ')}`;
    const notReady = [...this.extensions.values()]
      .filter((e) => !this.isWaiting(e))
      .map((e) => `extension:${e.name}`);
    if (!this.runtimeHasCalledNext) notReady.unshift('runtime');
    return `not ready (no next call): ${notReady.join(', ')}`;
  }

  private maxMemoryUsedMb(): number {
    const pid = this.runtime?.pid;
    const memory = pid === undefined ? undefined : readProcessMemory(pid);
    return memory ? Math.ceil(memory.peakRssKb / 1024) : 0;
  }

  private functionArn(): string {
    return functionArn(this.options.region, this.options.accountId, this.options.functionName);
  }

  private runtimeVersion(): string {
    return `${this.options.runtime === 'nodejs22.x' ? 'nodejs:22' : 'nodejs:20'}.lambda-sim`;
  }
}

function serializePayload(payload: unknown): string {
  let body: string | undefined;
  try {
    body = JSON.stringify(payload ?? {});
  } catch (cause) {
    throw new LambdaSimError('INVALID_PAYLOAD', 'the invoke payload must be JSON-serialisable', { cause });
  }
  if (body === undefined)
    throw new LambdaSimError('INVALID_PAYLOAD', 'the invoke payload must be JSON-serialisable');
  if (Buffer.byteLength(body) > MAX_PAYLOAD_BYTES) {
    throw new LambdaSimError(
      'INVALID_PAYLOAD',
      `the invoke payload exceeds Lambda's ${MAX_PAYLOAD_BYTES} bytes`,
    );
  }
  return body;
}

function parseErrorBody(request: ApiRequest, typeHeader: string): FunctionError {
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

function headerOf(request: ApiRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
