import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { ResolvedOptions } from './options.js';

/**
 * Variables the Lambda platform sets for the runtime, before `/var/runtime/bootstrap` adds
 * NODE_PATH and AWS_EXECUTION_ENV. https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
 */
export function buildRuntimeEnv(options: ResolvedOptions, runtimeApi: string): Record<string, string> {
  const nodeDir = dirname(options.nodeBinary);
  const opt = options.layerDir ?? '/opt';
  const platform: Record<string, string> = {
    AWS_LAMBDA_FUNCTION_NAME: options.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: options.functionVersion,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${options.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStreamName(options.functionVersion),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_REGION: options.region,
    AWS_DEFAULT_REGION: options.region,
    AWS_LAMBDA_RUNTIME_API: runtimeApi,
    LAMBDA_TASK_ROOT: options.taskRoot,
    LAMBDA_RUNTIME_DIR: options.runtimeDir,
    _HANDLER: options.handler,
    TZ: ':UTC',
  };
  // Unreserved variables: the function configuration may override them.
  const defaults: Record<string, string> = {
    LANG: 'en_US.UTF-8',
    PATH: `${nodeDir}:/usr/local/bin:/usr/bin/:/bin:${opt}/bin`,
    LD_LIBRARY_PATH: [
      join(nodeDir, '../lib'),
      '/lib64',
      '/usr/lib64',
      options.runtimeDir,
      join(options.runtimeDir, 'lib'),
      options.taskRoot,
      join(options.taskRoot, 'lib'),
      `${opt}/lib`,
    ].join(':'),
  };
  return { ...defaults, ...options.userEnv, ...platform };
}

/**
 * Lambda hides these from extensions ("Extensions API", section "Extension environment variables"):
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html
 * NODE_PATH is absent too unless the user set it, because only the runtime's bootstrap exports it.
 */
const HIDDEN_FROM_EXTENSIONS = [
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_XRAY_CONTEXT_MISSING',
  'AWS_XRAY_DAEMON_ADDRESS',
  'LAMBDA_RUNTIME_DIR',
  'LAMBDA_TASK_ROOT',
  '_AWS_XRAY_DAEMON_ADDRESS',
  '_AWS_XRAY_DAEMON_PORT',
  '_HANDLER',
];

/** What an external extension process sees: the runtime's variables minus those Lambda hides. */
export function buildExtensionEnv(runtimeEnv: Record<string, string>): Record<string, string> {
  const env = { ...runtimeEnv };
  for (const key of HIDDEN_FROM_EXTENSIONS) delete env[key];
  return env;
}

/** `2024/01/31/[$LATEST]0123456789abcdef0123456789abcdef`, the shape of Lambda's log stream names. */
function logStreamName(version: string): string {
  const date = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return `${date}/[${version}]${randomBytes(16).toString('hex')}`;
}
