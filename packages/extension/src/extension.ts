/**
 * The extension's lifecycle. Init: register (or take over the launcher's early registration),
 * provide the policy, subscribe to platform telemetry. Then for each INVOKE: deliver events as they
 * are spooled, and once the handler is done (platform.runtimeDone) flush before asking for the next
 * event, because Lambda freezes the environment as soon as every extension waits in `next`.
 * SHUTDOWN: a last flush inside the deadline Lambda gives, then exit.
 *
 * Nothing here may take the environment down: every step's failure is logged and the loop goes on.
 */
import * as fs from 'node:fs';
import type { ExtensionConfig } from './config.js';
import { describeError } from './errors.js';
import { EventShipper } from './event-shipper.js';
import { EventSpool } from './event-spool.js';
import { buildFunctionReport, sendFunctionReport } from './function-report.js';
import {
  type LifecycleEvent,
  nextEvent,
  parseRegisterBody,
  type RegisterInfo,
  register,
  subscribeTelemetry,
} from './lambda-api.js';
import type { LogLine } from './log.js';
import { type PolicyOutcome, providePolicy } from './policy-fetcher.js';
import { ensureRuntimeDir, type RuntimeFiles, readRuntimeInfo, runtimeFilesIn } from './runtime-dir.js';
import { startTelemetryListener, type TelemetryListener } from './telemetry-listener.js';

export interface RunOptions {
  config: ExtensionConfig;
  log: LogLine;
  /** Host the telemetry listener binds (default 0.0.0.0, see telemetry-listener.ts). */
  telemetryListenHost?: string;
  /** Called instead of process.exit after SHUTDOWN (tests run the lifecycle in-process). */
  exit?: (code: number) => void;
  /**
   * The policy hand-off, when the caller started it already (main.ts starts it before this module
   * and node:http are even loaded); otherwise it starts here.
   */
  policy?: Promise<PolicyOutcome>;
}

/** Margin kept before SHUTDOWN's deadline so our exit is not cut by SIGKILL. */
const SHUTDOWN_MARGIN_MS = 150;
const NEXT_RETRIES = 3;
const WATCH_DEBOUNCE_MS = 20;
const FALLBACK_POLL_MS = 500;
const RUNTIME_EXIT_WAIT_MS = 700;
const SHUTDOWN_REPORT_WAIT_MS = 300;
const RUNTIME_EXIT_POLL_MS = 10;

export async function runExtension(options: RunOptions): Promise<void> {
  const { config, log } = options;
  const files = runtimeFilesIn(config.runtimeDir);
  const coldStart = isColdStart(config);
  try {
    ensureRuntimeDir(files);
  } catch (error) {
    log(`cannot create ${files.dir} (${describeError(error)}); the agent's events cannot be read`);
  }

  // With early registration the runtime is already starting: fetch the policy while it boots (the
  // agent waits on policy.pending). Otherwise the policy is handed over before we register, so the
  // runtime (which starts only once we registered) finds it in place. Either way the policy request
  // goes out first (main.ts sends it before this module is even evaluated): starting the telemetry
  // listener (Node's HTTP server) takes milliseconds of a cold start, which would otherwise delay
  // the policy the agent is waiting for. setImmediate runs after every microtask, so after the
  // fetch's request is on the wire when the fetch starts here.
  const policy = options.policy ?? providePolicy(config, files);
  const telemetry = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() =>
      startTelemetryListener(
        options.telemetryListenHost === undefined ? {} : { listenHost: options.telemetryListenHost },
      ),
    )
    .catch((error: unknown) => {
      log(
        `telemetry listener could not start (${describeError(error)}); events are flushed at the next event instead`,
      );
      return undefined;
    });
  let registration: RegisterInfo;
  if (config.preRegistered) {
    registration = parseRegisterBodySafely(config, log);
  } else {
    await policy;
    registration = await register(config.lambdaApi, config.extensionName);
  }
  const listener = await subscribe(config, registration.extensionId, await telemetry, log);
  // Not awaited: Init ends when the runtime and every extension called `next`, and the runtime
  // cannot get there before its agent has the policy (or gave up waiting), so holding our `next`
  // for the fetch would only add to Init. The fetch finishes in the background.
  void policy
    .catch((error: unknown) => ({ kind: 'failed', error: describeError(error) }) as const)
    .then((outcome) => logPolicyOutcome(outcome, log));

  const delivery = createDelivery(config, registration, files, log);
  const reporter = delivery ? createReporter(config, registration, files, coldStart, log) : undefined;

  for (;;) {
    const event = await nextWithRetries(config.lambdaApi, registration.extensionId, log);
    if (!event) {
      delivery?.stop();
      (options.exit ?? process.exit)(0);
      return;
    }
    if (event.eventType === 'SHUTDOWN') {
      const deadline = event.deadlineMs - SHUTDOWN_MARGIN_MS;
      if (delivery) {
        await reporter?.send(Math.min(deadline, Date.now() + SHUTDOWN_REPORT_WAIT_MS));
        // Lambda SIGTERMs the runtime as it sends us SHUTDOWN: what the app logs while it exits
        // (SIGTERM handlers) is written after this moment, so wait for it to be gone, bounded.
        await waitForRuntimeExit(files, Math.min(deadline - 300, Date.now() + RUNTIME_EXIT_WAIT_MS));
        await delivery.flush(deadline);
        delivery.stop();
        log(`shutdown (${event.shutdownReason}): ${delivery.summary()}`);
      }
      await listener?.close();
      (options.exit ?? process.exit)(0);
      return;
    }
    await handleInvoke(event, { config, listener, delivery, reporter, log });
  }
}

async function handleInvoke(
  event: Extract<LifecycleEvent, { eventType: 'INVOKE' }>,
  context: {
    config: ExtensionConfig;
    listener: TelemetryListener | undefined;
    delivery: Delivery | undefined;
    reporter: Reporter | undefined;
    log: LogLine;
  },
): Promise<void> {
  const { config, listener, delivery, reporter } = context;
  if (!delivery) return;
  try {
    delivery.start();
    void reporter?.send(Date.now() + config.deliveryTimeoutMs);
    if (listener) {
      // Bounded by the invocation's own deadline: a handler that times out never sends runtimeDone.
      const waitMs = Math.max(0, Math.min(config.runtimeDoneWaitMs, event.deadlineMs - Date.now() + 200));
      await listener.waitForRuntimeDone(event.requestId, waitMs);
    }
    const deadline = Date.now() + config.invocationFlushBudgetMs;
    await reporter?.send(deadline);
    await delivery.flush(deadline);
  } catch (error) {
    context.log(`invocation ${event.requestId}: ${describeError(error)}`);
  }
}

function parseRegisterBodySafely(config: ExtensionConfig, log: LogLine): RegisterInfo {
  const preRegistered = config.preRegistered!;
  try {
    return parseRegisterBody(preRegistered.extensionId, preRegistered.responseBody);
  } catch (error) {
    log(
      `early registration response unreadable (${describeError(error)}); function details come from the environment`,
    );
    return { extensionId: preRegistered.extensionId };
  }
}

async function subscribe(
  config: ExtensionConfig,
  extensionId: string,
  listener: TelemetryListener | undefined,
  log: LogLine,
): Promise<TelemetryListener | undefined> {
  if (!listener) return undefined;
  try {
    await subscribeTelemetry(config.lambdaApi, extensionId, listener.destinationUri);
    return listener;
  } catch (error) {
    log(
      `telemetry subscription failed (${describeError(error)}); events are flushed at the next event instead`,
    );
    await listener.close();
    return undefined;
  }
}

function logPolicyOutcome(outcome: PolicyOutcome, log: LogLine): void {
  if (outcome.kind === 'offline') log(outcome.reason);
  else if (outcome.kind === 'failed') log(`no policy group for the agent: ${outcome.error}`);
  else if (outcome.source === 'cache')
    log(`control plane unreachable (${outcome.note}); using the cached policy group ${outcome.policy.name}`);
  else log(`policy group ${outcome.policy.name} handed to the agent`);
}

/**
 * Every start of the extension is an Init phase (a reset after a crash runs Init again), which the
 * caller waited for unless the environment was initialised ahead of time (provisioned concurrency,
 * SnapStart): those are not cold starts for the function's users.
 */
function isColdStart(config: ExtensionConfig): boolean {
  const type = config.initializationType ?? 'on-demand';
  return type !== 'provisioned-concurrency' && type !== 'snap-start';
}

/** Waits until the runtime process named in runtime.json has exited, or `deadlineMs`. */
async function waitForRuntimeExit(files: RuntimeFiles, deadlineMs: number): Promise<void> {
  const pid = readRuntimeInfo(files)?.pid;
  if (!pid || pid === process.pid) return;
  while (Date.now() < deadlineMs) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, RUNTIME_EXIT_POLL_MS));
  }
}

async function nextWithRetries(
  lambdaApi: string,
  extensionId: string,
  log: LogLine,
): Promise<LifecycleEvent | undefined> {
  for (let attempt = 1; attempt <= NEXT_RETRIES; attempt++) {
    try {
      return await nextEvent(lambdaApi, extensionId);
    } catch (error) {
      log(
        `event/next failed (${describeError(error)})${attempt < NEXT_RETRIES ? ', retrying' : '; exiting'}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
  return undefined;
}

interface Delivery {
  /** Starts following the spool (idempotent). */
  start(): void;
  flush(deadlineMs: number): Promise<void>;
  stop(): void;
  summary(): string;
}

function createDelivery(
  config: ExtensionConfig,
  registration: RegisterInfo,
  files: RuntimeFiles,
  log: LogLine,
): Delivery | undefined {
  if (!config.apiUrl || !config.licenseKey) {
    log('ES_API_URL or ES_LICENSE_KEY not set: events are only in the function log, not delivered');
    return undefined;
  }
  const spool = new EventSpool(files, config);
  const shipper = new EventShipper({
    apiUrl: config.apiUrl,
    licenseKey: config.licenseKey,
    spool,
    deliveryTimeoutMs: config.deliveryTimeoutMs,
    log,
    functionKey: () => ({
      provider: 'aws',
      region: config.region ?? '',
      accountId: registration.accountId ?? '',
      functionName: registration.functionName ?? config.functionName ?? '',
    }),
  });
  let watcher: fs.FSWatcher | undefined;
  let poller: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let rotationCheck: NodeJS.Timeout | undefined;
  const drainSoon = () => {
    if (debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      // In the background: never wait out a backoff, the invocation's end flush decides.
      void shipper
        .drain(Date.now() + config.deliveryTimeoutMs * 2, { waitOutBackoff: false })
        .then(checkRotationLater);
    }, WATCH_DEBOUNCE_MS);
  };
  // A rotated spool file is deleted by a read after its grace period: schedule one, since a quiet
  // agent writes nothing that would wake the watcher. (Unref'd: a frozen environment just waits.)
  const checkRotationLater = () => {
    if (rotationCheck || !spool.rotationPending()) return;
    rotationCheck = setTimeout(() => {
      rotationCheck = undefined;
      drainSoon();
    }, config.rotateGraceMs + WATCH_DEBOUNCE_MS).unref();
  };
  return {
    start() {
      if (watcher || poller) return;
      try {
        watcher = fs.watch(files.dir, { persistent: false }, (_type, name) => {
          if (name === null || name === 'events.ndjson' || name === 'events.ndjson.rotated') drainSoon();
        });
        watcher.on('error', () => {
          watcher?.close();
          watcher = undefined;
          poller ??= setInterval(drainSoon, FALLBACK_POLL_MS).unref();
        });
      } catch {
        poller = setInterval(drainSoon, FALLBACK_POLL_MS).unref();
      }
    },
    async flush(deadlineMs) {
      await shipper.drain(deadlineMs);
      checkRotationLater();
    },
    stop() {
      watcher?.close();
      if (rotationCheck) clearTimeout(rotationCheck);
      if (poller) clearInterval(poller);
      if (debounce) clearTimeout(debounce);
    },
    summary() {
      return `${shipper.delivered} events delivered, ${spool.dropped} dropped, ${spool.pendingBytes()} bytes undelivered`;
    },
  };
}

interface Reporter {
  /** Sends the function report once; later calls retry a failed one, bounded by `deadlineMs`. */
  send(deadlineMs: number): Promise<void>;
}

function createReporter(
  config: ExtensionConfig,
  registration: RegisterInfo,
  files: RuntimeFiles,
  coldStart: boolean,
  log: LogLine,
): Reporter {
  let state: 'pending' | 'sending' | 'done' = 'pending';
  let inFlight: Promise<void> | undefined;
  const sendOnce = async (deadlineMs: number) => {
    const report = buildFunctionReport({
      config,
      registration,
      runtimeInfo: readRuntimeInfo(files),
      coldStart,
    });
    const result = await sendFunctionReport({
      apiUrl: config.apiUrl!,
      licenseKey: config.licenseKey!,
      report,
      timeoutMs: Math.max(50, Math.min(config.deliveryTimeoutMs, deadlineMs - Date.now())),
    });
    if (result.ok) state = 'done';
    else {
      state = result.retryable ? 'pending' : 'done';
      log(
        `function report failed (${result.error})${result.retryable ? '; retrying at the next invocation' : ''}`,
      );
    }
  };
  return {
    async send(deadlineMs) {
      if (state === 'done') return;
      if (state === 'pending') {
        state = 'sending';
        inFlight = sendOnce(deadlineMs).catch((error: unknown) => {
          state = 'pending';
          log(`function report failed (${describeError(error)})`);
        });
      }
      const timeLeft = deadlineMs - Date.now();
      if (timeLeft <= 0 || !inFlight) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([inFlight, new Promise((resolve) => (timer = setTimeout(resolve, timeLeft)))]);
      clearTimeout(timer);
    },
  };
}
