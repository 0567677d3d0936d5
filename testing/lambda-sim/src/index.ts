import { LambdaEnvironment } from './lambda-environment.js';
import { type LogEntry, resolveOptions, type StartLambdaOptions } from './options.js';
import type {
  EnvironmentError,
  InvokeOptions,
  InvokeResult,
  ProcessMemory,
  ShutdownReason,
  ShutdownResult,
} from './types.js';

export { type InitFailure, LambdaInitError, LambdaSimError, type LambdaSimErrorCode } from './errors.js';
export type { LambdaArchitecture, LambdaRuntimeName, LogEntry, StartLambdaOptions } from './options.js';
export { RESERVED_ENV_KEYS } from './options.js';
export type { TelemetryEvent } from './telemetry.js';
export type {
  EnvironmentError,
  FunctionError,
  InvokeOptions,
  InvokeResult,
  ProcessMemory,
  ShutdownReason,
  ShutdownResult,
} from './types.js';

/** A running local Lambda execution environment. */
export interface LambdaSim {
  /** `127.0.0.1:PORT`, the value of AWS_LAMBDA_RUNTIME_API inside. */
  readonly runtimeApi: string;
  /** Duration of the last Init phase: extensions started and registered, runtime started, all called next. */
  readonly initDurationMs: number;
  /** Every output line of the runtime and the extensions, plus Lambda's START/END/REPORT lines, in order. */
  readonly logs: string[];
  /** The same lines with their source and stream. */
  readonly logEntries: LogEntry[];
  /** Errors reported through `exit/error`, and crashes after Init. */
  readonly errors: EnvironmentError[];
  /** Invokes the function; resolves when the runtime answered and every extension asked for the next event. */
  invoke(payload: unknown, options?: InvokeOptions): Promise<InvokeResult>;
  /** RSS of each running process (runtime, extensions). */
  memoryUsage(): ProcessMemory[];
  /** The Shutdown phase: SHUTDOWN to extensions, SIGKILL whatever still runs after 2 s, close the APIs. */
  shutdown(reason?: ShutdownReason): Promise<ShutdownResult>;
}

/**
 * Starts a local Lambda execution environment and runs its Init phase: extensions in
 * `<layerDir>/extensions/` start and register, then the real `aws-lambda-ric` runtime starts
 * through the bootstrap (and `AWS_LAMBDA_EXEC_WRAPPER`, when set).
 * Rejects with `LambdaInitError` when Init fails (after stopping everything it started).
 *
 * @example
 * const lambda = await startLambda({ handler: 'index.handler', taskRoot: '/path/to/code' });
 * const { result } = await lambda.invoke({ hello: 'world' });
 * await lambda.shutdown();
 */
export async function startLambda(options: StartLambdaOptions): Promise<LambdaSim> {
  const environment = new LambdaEnvironment(resolveOptions(options));
  await environment.start();
  return {
    get runtimeApi() {
      return environment.runtimeApiAddress;
    },
    get initDurationMs() {
      return environment.initDurationMs;
    },
    logs: environment.logs,
    logEntries: environment.logEntries,
    errors: environment.errors,
    invoke: (payload, invokeOptions) => environment.invoke(payload, invokeOptions),
    memoryUsage: () => environment.memoryUsage(),
    shutdown: (reason) => environment.shutdown(reason),
  };
}
