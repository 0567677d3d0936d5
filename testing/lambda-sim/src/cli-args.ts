import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { LambdaSimError } from './errors.js';
import type { StartLambdaOptions } from './options.js';

export const USAGE = `Usage: lambda-sim --handler index.handler --task-root DIR [options]

Runs a function in a local Lambda (real aws-lambda-ric runtime, extensions from --layer-dir/extensions),
invokes it, prints each result as one JSON line, then shuts the environment down.

Options:
  --handler NAME          handler setting, e.g. index.handler (required)
  --task-root DIR         function code directory, /var/task (required)
  --layer-dir DIR         layer directory, /opt (extensions/ and the exec wrapper live there)
  --env KEY=VALUE         function environment variable (repeatable), e.g. AWS_LAMBDA_EXEC_WRAPPER=/opt/wrapper
  --event JSON            event payload (default {})
  --event-file FILE       event payload read from a JSON file
  --count N               number of invocations (default 1)
  --timeout-ms N          function timeout (default 3000)
  --memory-mb N           memory size (default 128)
  --function-name NAME    function name (default lambda-sim-function)
  --runtime NAME          nodejs20.x (default) or nodejs22.x
  --no-freeze             do not SIGSTOP processes between invocations
  --quiet                 do not echo the function and extension logs to stderr
`;

export type CliCommand =
  | { kind: 'usage'; exitCode: number }
  | { kind: 'run'; options: StartLambdaOptions; event: unknown; count: number };

function invalid(message: string): never {
  throw new LambdaSimError('INVALID_OPTIONS', message);
}

function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const index = pair.indexOf('=');
    if (index <= 0) invalid(`--env ${pair}: expected KEY=VALUE`);
    env[pair.slice(0, index)] = pair.slice(index + 1);
  }
  return env;
}

function parsePositiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) invalid(`--${name} must be a positive integer, got ${value}`);
  return number;
}

/** Turns the command line into what to run; bad arguments throw LambdaSimError naming the argument. */
export function parseCliArgs(argv: string[]): CliCommand {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (cause) {
    throw new LambdaSimError('INVALID_OPTIONS', (cause as Error).message, { cause });
  }
  if (values.help) return { kind: 'usage', exitCode: 0 };
  if (!values.handler || !values['task-root']) return { kind: 'usage', exitCode: 2 };
  if (values.event !== undefined && values['event-file'] !== undefined) {
    invalid('give either --event or --event-file, not both');
  }
  const eventText = values['event-file']
    ? readFileSync(values['event-file'], 'utf8')
    : (values.event ?? '{}');
  let event: unknown;
  try {
    event = JSON.parse(eventText);
  } catch {
    throw new LambdaSimError('INVALID_PAYLOAD', 'the event (--event or --event-file) is not valid JSON');
  }
  const options: StartLambdaOptions = {
    handler: values.handler,
    taskRoot: values['task-root'],
    env: parseEnv(values.env ?? []),
    freeze: !values['no-freeze'],
    echo: !values.quiet,
  };
  if (values['layer-dir']) options.layerDir = values['layer-dir'];
  if (values['function-name']) options.functionName = values['function-name'];
  if (values.runtime) options.runtime = values.runtime as StartLambdaOptions['runtime'];
  const timeoutMs = parsePositiveInteger('timeout-ms', values['timeout-ms']);
  if (timeoutMs) options.timeoutMs = timeoutMs;
  const memoryMb = parsePositiveInteger('memory-mb', values['memory-mb']);
  if (memoryMb) options.memoryMb = memoryMb;
  return { kind: 'run', options, event, count: parsePositiveInteger('count', values.count) ?? 1 };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      handler: { type: 'string' },
      'task-root': { type: 'string' },
      'layer-dir': { type: 'string' },
      env: { type: 'string', multiple: true },
      event: { type: 'string' },
      'event-file': { type: 'string' },
      count: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'memory-mb': { type: 'string' },
      'function-name': { type: 'string' },
      runtime: { type: 'string' },
      'no-freeze': { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
}
