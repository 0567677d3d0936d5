import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type ApiHandlers, createApiServer, MAX_PAYLOAD_BYTES } from './api-server.js';
import { buildExtensionEnv, buildRuntimeEnv } from './environment.js';
import { type InitFailure, LambdaInitError, LambdaSimError } from './errors.js';
import { ExtensionsApi } from './extensions-api.js';
import { ManagedProcess, type ProcessExit } from './managed-process.js';
import type { LogEntry, ResolvedOptions } from './options.js';
import { functionArn, newTraceId, readProcessMemory, reportLine, tracingOf } from './platform-records.js';
import { type Invocation, type InvocationOutcome, RuntimeApi } from './runtime-api.js';
import { StateSignal } from './state-signal.js';
import { TelemetryHub } from './telemetry.js';
import type {
  EnvironmentError,
  InvokeOptions,
  InvokeResult,
  ProcessMemory,
  ShutdownReason,
  ShutdownResult,
} from './types.js';

/**
 * Lambda's Shutdown phase: with extensions registered, the runtime gets SIGTERM and up to 300 ms
 * (500 ms with an internal extension), then external extensions get SHUTDOWN and the rest of 2000 ms;
 * whatever still runs at its deadline is SIGKILLed. Without extensions the runtime is killed at once.
 * https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-shutdown
 */
const SHUTDOWN_TOTAL_MS = 2000;
const SHUTDOWN_RUNTIME_MS = 300;
const SHUTDOWN_RUNTIME_WITH_INTERNAL_MS = 500;
/** Bound on delivering telemetry held by the last freeze before the Shutdown phase starts. */
const SHUTDOWN_TELEMETRY_FLUSH_MS = 250;

type Phase = 'created' | 'init' | 'ready' | 'invoke' | 'shutdown' | 'stopped';

/** Environments not shut down yet: their (possibly frozen) processes must not outlive this process. */
const liveEnvironments = new Set<LambdaEnvironment>();
let exitHookInstalled = false;

function killOnProcessExit(environment: LambdaEnvironment): void {
  liveEnvironments.add(environment);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const live of liveEnvironments) live.killAll();
  });
}

/**
 * One Lambda execution environment: the processes and the Init / Invoke / Shutdown lifecycle as
 * https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html describes it.
 * The HTTP side lives in RuntimeApi and ExtensionsApi; this class decides when things happen.
 */
export class LambdaEnvironment {
  readonly logs: string[] = [];
  readonly logEntries: LogEntry[] = [];
  readonly errors: EnvironmentError[] = [];
  runtimeApiAddress = '';
  initDurationMs = 0;

  private readonly server: Server;
  private readonly telemetry: TelemetryHub;
  private readonly runtimeApi: RuntimeApi;
  private readonly extensionsApi: ExtensionsApi;
  private readonly signal = new StateSignal();
  private phase: Phase = 'created';
  private runtimeEnv: Record<string, string> = {};
  private launchedExtensions: ManagedProcess[] = [];
  private runtime: ManagedProcess | undefined;
  private initFailure: InitFailure | undefined;
  private invocation: Invocation | undefined;
  private resetReason: ShutdownReason | undefined;
  private reportInitDuration = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ResolvedOptions) {
    this.telemetry = new TelemetryHub((line) => this.platformLog(line));
    const changed = () => this.signal.notify();
    this.runtimeApi = new RuntimeApi({
      isInitializing: () => this.phase === 'init',
      functionArn: () => this.functionArn(),
      onInitError: (error) => {
        this.initFailure ??= {
          source: 'runtime',
          errorType: error.errorType,
          errorMessage: error.errorMessage,
        };
      },
      onAnswer: (invocation) => {
        const outcome = invocation.outcome;
        const status = !outcome || outcome.ok ? 'success' : outcome.status;
        this.emitRuntimeDone(
          invocation,
          status,
          outcome && !outcome.ok ? outcome.error.errorType : undefined,
        );
      },
      changed,
    });
    this.extensionsApi = new ExtensionsApi({
      isInitializing: () => this.phase === 'init',
      runtimeStarted: () => this.runtime !== undefined,
      functionInfo: () => ({
        functionName: this.options.functionName,
        functionVersion: this.options.functionVersion,
        handler: this.options.handler,
        accountId: this.options.accountId,
      }),
      launchedProcess: (name) =>
        this.launchedExtensions.find((managed) => managed.source === `extension:${name}`),
      telemetry: this.telemetry,
      onInitError: (source, error) => {
        this.initFailure ??= { source, errorType: error.errorType, errorMessage: error.errorMessage };
      },
      onExitError: (source, error) => {
        this.errors.push({
          source,
          errorType: error.errorType,
          errorMessage: error.errorMessage,
          timeMs: Date.now(),
        });
        this.platformLog(`${source} reported exit error ${error.errorType}: ${error.errorMessage}`);
      },
      changed,
    });
    this.server = createApiServer(this.apiHandlers());
  }

  /** Listens on loopback, then runs the Init phase; rejects with LambdaInitError when Init fails. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.runtimeApiAddress = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    killOnProcessExit(this);
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
    for (const managed of this.processes()) {
      if (!managed.running || managed.pid === undefined) continue;
      const memory = readProcessMemory(managed.pid);
      if (memory) usage.push({ source: managed.source, pid: managed.pid, ...memory });
    }
    return usage;
  }

  // ---------------------------------------------------------------- Init

  private async init(): Promise<void> {
    this.phase = 'init';
    this.initFailure = undefined;
    this.runtimeApi.reset();
    this.extensionsApi.reset();
    const startedAt = performance.now();
    const deadline = startedAt + this.options.initTimeoutMs;
    this.runtimeEnv = buildRuntimeEnv(this.options, this.runtimeApiAddress);
    this.telemetry.beginInit();
    this.platformLog(`INIT_START Runtime Version: ${this.runtimeVersion()}`);
    this.telemetry.emit('platform', 'platform.initStart', {
      initializationType: 'on-demand',
      phase: 'init',
      runtimeVersion: this.runtimeVersion(),
      functionName: this.options.functionName,
      functionVersion: this.options.functionVersion,
    });

    // Extensions first; the runtime starts once every one of them has registered.
    this.launchedExtensions = this.launchExtensions();
    let completed = await this.signal.waitUntil(
      () =>
        this.initFailure !== undefined ||
        this.launchedExtensions.every((managed) => this.extensionsApi.ofProcess(managed) !== undefined),
      deadline,
    );
    if (completed && !this.initFailure) {
      this.runtime = this.launchRuntime();
      // Init is over when the runtime and every extension wait in `next`.
      completed = await this.signal.waitUntil(
        () =>
          this.initFailure !== undefined ||
          (this.runtimeApi.hasCalledNext &&
            this.extensionsApi.all().every((extension) => this.extensionsApi.isWaiting(extension))),
        deadline,
      );
    }
    if (!completed && !this.initFailure) {
      this.initFailure = {
        source: this.runtime && !this.runtimeApi.hasCalledNext ? 'runtime' : 'extension',
        errorType: 'Sandbox.Timedout',
        errorMessage: `Init did not complete within ${this.options.initTimeoutMs} ms (${this.describeInitProgress()})`,
      };
    }
    this.initDurationMs = performance.now() - startedAt;
    const failure = this.initFailure;
    this.reportInit(failure);
    if (failure) {
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

  private reportInit(failure: InitFailure | undefined): void {
    const status = failure ? (failure.errorType === 'Sandbox.Timedout' ? 'timeout' : 'error') : 'success';
    const errorType = failure ? { errorType: failure.errorType } : {};
    const phase = { initializationType: 'on-demand', phase: 'init', status, ...errorType };
    this.telemetry.emit('platform', 'platform.initRuntimeDone', phase);
    this.telemetry.emit('platform', 'platform.initReport', {
      ...phase,
      metrics: { durationMs: round(this.initDurationMs) },
    });
    this.telemetry.endInit();
    if (failure) {
      const duration = this.initDurationMs.toFixed(2);
      this.platformLog(
        `INIT_REPORT Init Duration: ${duration} ms\tPhase: init\tStatus: ${status}\tError Type: ${failure.errorType}`,
      );
    }
  }

  private describeInitProgress(): string {
    const unregistered = this.launchedExtensions
      .filter((managed) => this.extensionsApi.ofProcess(managed) === undefined)
      .map((managed) => managed.source);
    if (unregistered.length > 0) return `not registered: ${unregistered.join(', ')}`;
    const notReady = this.extensionsApi
      .all()
      .filter((extension) => !this.extensionsApi.isWaiting(extension))
      .map((extension) => `extension:${extension.name}`);
    if (!this.runtimeApi.hasCalledNext) notReady.unshift('runtime');
    return `not ready (no next call): ${notReady.join(', ')}`;
  }

  // ---------------------------------------------------------------- Invoke

  private async runInvocation(body: string, options: InvokeOptions): Promise<InvokeResult> {
    if (this.phase === 'stopped' || this.phase === 'shutdown') {
      throw new LambdaSimError(
        'NOT_RUNNING',
        'the environment is shut down; start a new one with startLambda',
      );
    }
    let initDurationMs: number | undefined;
    if (this.resetReason) {
      // A process died while frozen, or the last invocation failed: Lambda starts a new environment.
      if (this.processes().length > 0) await this.stopProcesses(this.resetReason);
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
    const invocation = this.newInvocation(body, options);
    const deadline = invocation.startedAt + this.options.timeoutMs;
    this.invocation = invocation;
    this.platformLog(`START RequestId: ${invocation.requestId} Version: ${this.options.functionVersion}`);
    this.telemetry.emit('platform', 'platform.start', {
      requestId: invocation.requestId,
      version: this.options.functionVersion,
      tracing: tracingOf(invocation.traceId),
    });
    // The runtime first: Lambda hands the event to both at once, and the caller waits on the runtime.
    this.runtimeApi.dispatch(invocation);
    const invokeSubscribers = () =>
      this.extensionsApi.all().filter((extension) => !extension.gone && extension.events.has('INVOKE'));
    for (const extension of invokeSubscribers()) {
      this.extensionsApi.send(extension, {
        eventType: 'INVOKE',
        deadlineMs: invocation.deadlineEpochMs,
        requestId: invocation.requestId,
        invokedFunctionArn: this.functionArn(),
        tracing: tracingOf(invocation.traceId),
      });
    }

    const answered = await this.signal.waitUntil(() => invocation.outcome !== undefined, deadline);
    const answeredAt = invocation.answeredAt ?? performance.now();
    // Lambda freezes the environment once the runtime and every INVOKE subscriber wait in `next`.
    const settled = await this.signal.waitUntil(
      () =>
        (this.runtimeApi.hasCalledNext || this.runtime?.exit !== undefined) &&
        invokeSubscribers().every((extension) => this.extensionsApi.isWaiting(extension)),
      deadline,
    );
    const settledAt = performance.now();
    // Output written before the runtime's answer may still wait in this poll phase: take it in, so the
    // invocation's lines precede END / REPORT and are in `logs` when invoke() resolves.
    await new Promise((resolve) => setImmediate(resolve));
    this.runtimeApi.finish();
    this.invocation = undefined;

    let outcome: InvocationOutcome;
    let status: InvokeResult['status'];
    if (!answered || !invocation.outcome) {
      status = 'timeout';
      const seconds = (this.options.timeoutMs / 1000).toFixed(2);
      const errorMessage = `RequestId: ${invocation.requestId} Error: Task timed out after ${seconds} seconds`;
      outcome = { ok: false, status: 'failure', error: { errorType: 'Sandbox.Timedout', errorMessage } };
      this.emitRuntimeDone(invocation, 'timeout', 'Sandbox.Timedout');
    } else {
      outcome = invocation.outcome;
      status = !settled ? 'timeout' : outcome.ok ? 'success' : outcome.status;
    }
    const crashed =
      this.runtime?.exit !== undefined || this.extensionsApi.all().some((extension) => extension.gone);
    if (status !== 'timeout' && crashed) status = 'failure';
    const reset: ShutdownReason | undefined =
      status === 'timeout' ? 'timeout' : crashed ? 'failure' : undefined;
    this.reportInvocation(invocation, status, outcome, settledAt - invocation.startedAt);

    const result: InvokeResult = {
      requestId: invocation.requestId,
      ok: outcome.ok,
      status,
      ...(outcome.ok ? { result: outcome.result } : { error: outcome.error }),
      durationMs: answeredAt - invocation.startedAt,
      postRuntimeDurationMs: Math.max(0, settledAt - answeredAt),
      ...(reset ? { reset } : {}),
      ...(initDurationMs !== undefined ? { initDurationMs } : {}),
    };
    if (reset) {
      await this.stopProcesses(reset);
      this.resetReason = reset;
    } else {
      this.freeze();
    }
    this.phase = 'ready';
    return result;
  }

  private newInvocation(body: string, options: InvokeOptions): Invocation {
    return {
      requestId: randomUUID(),
      body,
      deadlineEpochMs: Date.now() + this.options.timeoutMs,
      traceId: newTraceId(),
      clientContext: options.clientContext ? JSON.stringify(options.clientContext) : undefined,
      cognitoIdentity: options.cognitoIdentity ? JSON.stringify(options.cognitoIdentity) : undefined,
      sentToRuntime: false,
      startedAt: performance.now(),
      answeredAt: undefined,
      outcome: undefined,
      producedBytes: 0,
    };
  }

  private emitRuntimeDone(invocation: Invocation, status: string, errorType: string | undefined): void {
    const durationMs = (invocation.answeredAt ?? performance.now()) - invocation.startedAt;
    this.telemetry.emit('platform', 'platform.runtimeDone', {
      requestId: invocation.requestId,
      status,
      ...(errorType ? { errorType } : {}),
      metrics: { durationMs: round(durationMs), producedBytes: invocation.producedBytes },
      tracing: tracingOf(invocation.traceId),
      spans: [],
    });
  }

  /** `platform.report` and the END / REPORT log lines. */
  private reportInvocation(
    invocation: Invocation,
    status: string,
    outcome: InvocationOutcome,
    totalMs: number,
  ): void {
    const maxMemoryUsedMb = this.maxMemoryUsedMb();
    const initDurationMs = this.reportInitDuration ? this.initDurationMs : undefined;
    this.reportInitDuration = false;
    this.telemetry.emit('platform', 'platform.report', {
      requestId: invocation.requestId,
      status,
      ...(outcome.ok ? {} : { errorType: outcome.error.errorType }),
      metrics: {
        durationMs: round(totalMs),
        billedDurationMs: Math.ceil(totalMs),
        memorySizeMB: this.options.memoryMb,
        maxMemoryUsedMB: maxMemoryUsedMb,
        ...(initDurationMs !== undefined ? { initDurationMs: round(initDurationMs) } : {}),
      },
      tracing: tracingOf(invocation.traceId),
    });
    this.platformLog(`END RequestId: ${invocation.requestId}`);
    this.platformLog(
      reportLine({
        requestId: invocation.requestId,
        durationMs: totalMs,
        memoryMb: this.options.memoryMb,
        maxMemoryUsedMb,
        initDurationMs,
        status,
      }),
    );
  }

  // ---------------------------------------------------------------- Shutdown

  /** Thaws, sends SHUTDOWN, waits up to 2 s for the processes to exit, SIGKILLs the rest. */
  private async stopProcesses(reason: ShutdownReason): Promise<ShutdownResult> {
    this.phase = 'shutdown';
    this.thaw();
    // Telemetry held by the last freeze (e.g. the last platform.report) reaches listeners first.
    await Promise.race([this.telemetry.flush(), delay(SHUTDOWN_TELEMETRY_FLUSH_MS)]);
    const extensions = this.extensionsApi.all();
    const hasInternal = extensions.some((extension) => extension.internal);
    const hasExternal = extensions.some((extension) => !extension.internal);
    const startedAt = performance.now();
    const startedAtEpochMs = Date.now();
    const killed: string[] = [];

    const runtime = this.runtime;
    if (runtime && extensions.length > 0) {
      const runtimeMs = hasInternal ? SHUTDOWN_RUNTIME_WITH_INTERNAL_MS : SHUTDOWN_RUNTIME_MS;
      runtime.signalGroup('SIGTERM');
      await this.signal.waitUntil(() => runtime.exit !== undefined, startedAt + runtimeMs);
      if (runtime.running) {
        killed.push(runtime.source);
        this.platformLog(`SHUTDOWN: runtime did not exit within ${runtimeMs} ms of SIGTERM, SIGKILL`);
      }
    }
    runtime?.kill();

    const targets = extensions.filter((extension) => !extension.gone && extension.events.has('SHUTDOWN'));
    for (const extension of targets) {
      this.extensionsApi.send(extension, {
        eventType: 'SHUTDOWN',
        shutdownReason: reason,
        deadlineMs: startedAtEpochMs + SHUTDOWN_TOTAL_MS,
      });
    }
    const targetProcesses = targets.flatMap((extension) => (extension.process ? [extension.process] : []));
    if (hasExternal) {
      const deadline = startedAt + SHUTDOWN_TOTAL_MS;
      await this.signal.waitUntil(
        () => targetProcesses.every((managed) => managed.exit !== undefined),
        deadline,
      );
    }
    for (const managed of this.launchedExtensions.filter((launched) => launched.running)) {
      killed.push(managed.source);
      this.platformLog(`SHUTDOWN: ${managed.source} did not exit within ${SHUTDOWN_TOTAL_MS} ms, SIGKILL`);
    }
    // Leaders that exited may leave group members behind: kill every group.
    const everything = this.processes();
    for (const managed of everything) managed.kill();
    await Promise.all(everything.map((managed) => Promise.race([managed.exited, delay(1000)])));
    this.telemetry.close();
    this.runtime = undefined;
    this.launchedExtensions = [];
    this.runtimeApi.reset();
    return { extensionsExited: targetProcesses.every((managed) => !killed.includes(managed.source)), killed };
  }

  private async close(): Promise<void> {
    this.phase = 'stopped';
    liveEnvironments.delete(this);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.signal.close();
  }

  // ---------------------------------------------------------------- processes

  private processes(): ManagedProcess[] {
    return this.runtime ? [this.runtime, ...this.launchedExtensions] : [...this.launchedExtensions];
  }

  /** SIGKILLs every process group at once (used when the host process exits). */
  killAll(): void {
    for (const managed of this.processes()) managed.kill();
  }

  private freeze(): void {
    if (!this.options.freeze) return;
    this.telemetry.freeze();
    for (const managed of this.processes()) managed.freeze();
  }

  private thaw(): void {
    for (const managed of this.processes()) managed.thaw();
    this.telemetry.thaw();
  }

  /** Every executable in `<layerDir>/extensions/`, as Lambda starts those of /opt/extensions. */
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
      launched.push(this.startProcess(`extension:${name}`, path, [], env, this.options.layerDir ?? '/'));
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
    const { bootstrapPath, nodeBinary, taskRoot } = this.options;
    return this.startProcess('runtime', bootstrapPath, [nodeBinary], env, taskRoot);
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
    const current = this.processes().includes(managed);
    if (current && this.phase !== 'shutdown' && this.phase !== 'stopped') {
      if (managed === this.runtime) this.onRuntimeExit(exit);
      else this.onExtensionExit(managed, exit);
    }
    this.signal.notify();
  }

  private onRuntimeExit(exit: ProcessExit): void {
    const how = describeExit(exit);
    if (this.phase === 'init') {
      this.initFailure ??= {
        source: 'runtime',
        errorType: 'Runtime.ExitError',
        errorMessage: `Runtime exited with error: ${how}`,
      };
      return;
    }
    const invocation = this.invocation;
    if (invocation && !invocation.outcome) {
      const errorMessage = `RequestId: ${invocation.requestId} Error: Runtime exited with error: ${how}`;
      this.runtimeApi.answer(invocation, {
        ok: false,
        status: 'failure',
        error: { errorType: 'Runtime.ExitError', errorMessage },
      });
    }
    this.errors.push({
      source: 'runtime',
      errorType: 'Runtime.ExitError',
      errorMessage: how,
      timeMs: Date.now(),
    });
    if (this.phase === 'ready') this.resetReason = 'failure';
  }

  private onExtensionExit(managed: ManagedProcess, exit: ProcessExit): void {
    const extension = this.extensionsApi.ofProcess(managed);
    if (extension) {
      extension.gone = true;
      this.telemetry.unsubscribe(extension.name);
    }
    const errorMessage = `extension ${managed.source.slice('extension:'.length)} exited (${describeExit(exit)})`;
    if (this.phase === 'init') {
      this.initFailure ??= { source: managed.source, errorType: 'Extension.Crash', errorMessage };
      return;
    }
    this.errors.push({
      source: managed.source,
      errorType: 'Extension.Crash',
      errorMessage,
      timeMs: Date.now(),
    });
    if (this.phase === 'ready') this.resetReason = 'failure';
  }

  // ---------------------------------------------------------------- logs and helpers

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

  private apiHandlers(): ApiHandlers {
    const runtime = this.runtimeApi;
    const extensions = this.extensionsApi;
    return {
      runtimeNext: (reply) => runtime.next(reply),
      runtimeResponse: (requestId, request, reply) => runtime.response(requestId, request, reply),
      runtimeError: (requestId, request, reply) => runtime.error(requestId, request, reply),
      runtimeInitError: (request, reply) => runtime.initError(request, reply),
      extensionRegister: (request, reply) => extensions.register(request, reply),
      extensionNext: (id, reply) => extensions.next(id, reply),
      extensionInitError: (id, request, reply) => extensions.initError(id, request, reply),
      extensionExitError: (id, request, reply) => extensions.exitError(id, request, reply),
      telemetrySubscribe: (id, request, reply) => extensions.subscribeTelemetry(id, request, reply),
    };
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

function describeExit(exit: ProcessExit): string {
  return exit.signal ? `signal: ${exit.signal}` : `exit status ${exit.code}`;
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

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** A timer that does not keep the host process alive on its own. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
