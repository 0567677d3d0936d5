import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { LambdaSimError } from './errors.js';

export type LambdaRuntimeName = 'nodejs20.x' | 'nodejs22.x';
export type LambdaArchitecture = 'x86_64' | 'arm64';

/** One captured output line of a process of the execution environment. */
export interface LogEntry {
  /** `runtime`, `extension:<file name>` or `platform` (the START/END/REPORT lines the sim writes). */
  source: string;
  stream: 'stdout' | 'stderr';
  line: string;
  timeMs: number;
}

export interface StartLambdaOptions {
  /** The function's handler setting, e.g. `index.handler` (module `index`, export `handler`). */
  handler: string;
  /** The function code directory (`/var/task`). */
  taskRoot: string;
  /** The layer directory (`/opt`): executables in `<layerDir>/extensions/` start as external extensions. */
  layerDir?: string;
  /** The function's own environment variables (e.g. `AWS_LAMBDA_EXEC_WRAPPER`, `ES_*`). */
  env?: Record<string, string>;
  functionName?: string;
  functionVersion?: string;
  memoryMb?: number;
  /** Must match this machine's architecture: the sim runs processes natively, it does not emulate. */
  architecture?: LambdaArchitecture;
  region?: string;
  accountId?: string;
  /** Lambda's Init phase limit, 10 s. */
  initTimeoutMs?: number;
  /** The function timeout (Lambda's default is 3 s); extensions' post-invoke work counts against it. */
  timeoutMs?: number;
  runtime?: LambdaRuntimeName;
  /** Node binary that runs the runtime (`/var/lang/bin/node`); default: the node running the sim. */
  nodeBinary?: string;
  /** Freeze (SIGSTOP) every process between invocations, as Lambda does. Default true. */
  freeze?: boolean;
  /** Echo captured lines: `true` writes them to stderr with their source, or pass a function. */
  echo?: boolean | ((entry: LogEntry) => void);
  /** Directory of `aws-lambda-ric` (`/var/runtime`); default: resolved from this package. */
  runtimeDir?: string;
}

export interface ResolvedOptions {
  handler: string;
  taskRoot: string;
  layerDir: string | undefined;
  userEnv: Record<string, string>;
  functionName: string;
  functionVersion: string;
  memoryMb: number;
  architecture: LambdaArchitecture;
  region: string;
  accountId: string;
  initTimeoutMs: number;
  timeoutMs: number;
  runtime: LambdaRuntimeName;
  nodeBinary: string;
  freeze: boolean;
  echo: ((entry: LogEntry) => void) | undefined;
  runtimeDir: string;
  bootstrapPath: string;
}

/** Keys Lambda reserves: a function configuration that sets one is rejected, so the sim rejects it too. */
export const RESERVED_ENV_KEYS: readonly string[] = [
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
  'TZ',
];

const HOST_ARCHITECTURE: Record<string, LambdaArchitecture> = { x64: 'x86_64', arm64: 'arm64' };
const FUNCTION_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const ENV_KEY = /^[a-zA-Z]([a-zA-Z0-9_])+$/;

function invalid(message: string): never {
  throw new LambdaSimError('INVALID_OPTIONS', message);
}

function requireDirectory(name: string, path: unknown): string {
  if (typeof path !== 'string' || path === '')
    invalid(`${name} must be a directory path, got ${String(path)}`);
  const absolute = resolve(path);
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) {
    invalid(`${name} ${absolute} is not an existing directory`);
  }
  return absolute;
}

function requireInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    invalid(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function resolveUserEnv(env: Record<string, string> | undefined): Record<string, string> {
  const userEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(env ?? {})) {
    if (!ENV_KEY.test(key)) invalid(`env key ${JSON.stringify(key)} is not a valid Lambda variable name`);
    if (RESERVED_ENV_KEYS.includes(key)) invalid(`env key ${key} is reserved by Lambda and cannot be set`);
    if (typeof value !== 'string') invalid(`env ${key} must be a string, got ${typeof value}`);
    userEnv[key] = value;
  }
  return userEnv;
}

/** Where `aws-lambda-ric` is installed: the sim's `/var/runtime`. */
export function findRuntimeDir(): string {
  let installed: string;
  try {
    const require = createRequire(import.meta.url);
    installed = realpathSync(dirname(require.resolve('aws-lambda-ric/package.json')));
  } catch (cause) {
    throw new LambdaSimError(
      'RUNTIME_NOT_FOUND',
      'aws-lambda-ric is not installed (it is a devDependency of @appdefender/lambda-sim); pass runtimeDir',
      { cause },
    );
  }
  return isUnder(installed, '/tmp') ? runtimeCopyOutsideTmp(installed) : installed;
}

/** The files of the aws-lambda-ric package the runtime loads (its index.mjs is a single bundle). */
const RUNTIME_FILES = ['package.json', 'index.mjs', 'rapid-client.node'];

/**
 * In Lambda, /var/runtime is on a read-only file system, never under /tmp, and the agent refuses to
 * trust a runtime directory in /tmp (anyone can write there). A checkout that lives under /tmp (as a
 * CI clone may) therefore gets its runtime copied once to /var/tmp, keyed by the package's version.
 */
function runtimeCopyOutsideTmp(installed: string): string {
  const { version } = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
    version: string;
  };
  const target = join('/var/tmp', 'appdefender-lambda-sim', `aws-lambda-ric-${version}`);
  if (RUNTIME_FILES.every((file) => existsSync(join(target, file)))) return target;
  const staging = `${target}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const file of RUNTIME_FILES) copyFileSync(join(installed, file), join(staging, file));
  try {
    renameSync(staging, target);
  } catch (error) {
    // another process installed the same copy first: theirs is as good as ours
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(target, 'index.mjs'))) throw error;
  }
  return target;
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir + sep);
}

/** Validates the options at the boundary and fills in Lambda's defaults. */
export function resolveOptions(options: StartLambdaOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) invalid('options must be an object');
  if (typeof options.handler !== 'string' || !/^[^.]+\..+$/.test(options.handler.split('/').pop() ?? '')) {
    invalid(`handler must look like "file.export", got ${JSON.stringify(options.handler)}`);
  }
  const functionName = options.functionName ?? 'lambda-sim-function';
  if (!FUNCTION_NAME.test(functionName)) invalid(`functionName ${JSON.stringify(functionName)} is not valid`);
  const hostArchitecture = HOST_ARCHITECTURE[process.arch];
  const architecture =
    options.architecture ?? hostArchitecture ?? invalid(`unsupported host ${process.arch}`);
  if (architecture !== hostArchitecture) {
    invalid(
      `architecture ${architecture} cannot run here: this machine is ${process.arch} and the sim does not emulate`,
    );
  }
  const runtime = options.runtime ?? 'nodejs20.x';
  if (runtime !== 'nodejs20.x' && runtime !== 'nodejs22.x')
    invalid(`runtime ${String(runtime)} is not supported`);
  const region = options.region ?? 'us-east-1';
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    invalid(`region ${JSON.stringify(region)} is not a region name`);
  const accountId = options.accountId ?? '123456789012';
  if (!/^\d{12}$/.test(accountId)) invalid(`accountId must be 12 digits, got ${JSON.stringify(accountId)}`);
  const nodeBinary = options.nodeBinary ?? process.execPath;
  if (!isAbsolute(nodeBinary) || !existsSync(nodeBinary)) invalid(`nodeBinary ${nodeBinary} does not exist`);
  const runtimeDir = options.runtimeDir
    ? requireDirectory('runtimeDir', options.runtimeDir)
    : findRuntimeDir();
  if (!existsSync(resolve(runtimeDir, 'index.mjs'))) {
    invalid(`runtimeDir ${runtimeDir} has no index.mjs: it must be the aws-lambda-ric package directory`);
  }
  const echo = options.echo === true ? echoToStderr : options.echo === false ? undefined : options.echo;
  return {
    handler: options.handler,
    taskRoot: requireDirectory('taskRoot', options.taskRoot),
    layerDir: options.layerDir === undefined ? undefined : requireDirectory('layerDir', options.layerDir),
    userEnv: resolveUserEnv(options.env),
    functionName,
    functionVersion: options.functionVersion ?? '$LATEST',
    memoryMb: requireInteger('memoryMb', options.memoryMb ?? 128, 128, 10_240),
    architecture,
    region,
    accountId,
    initTimeoutMs: requireInteger('initTimeoutMs', options.initTimeoutMs ?? 10_000, 100, 600_000),
    timeoutMs: requireInteger('timeoutMs', options.timeoutMs ?? 3_000, 100, 900_000),
    runtime,
    nodeBinary,
    freeze: options.freeze ?? true,
    echo,
    runtimeDir,
    bootstrapPath: new URL('../runtime/bootstrap', import.meta.url).pathname,
  };
}

function echoToStderr(entry: LogEntry): void {
  process.stderr.write(`[${entry.source}] ${entry.line}\n`);
}
