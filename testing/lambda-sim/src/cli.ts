#!/usr/bin/env node
// `lambda-sim`: run a function in the local Lambda from the command line (manual runs and demos).
import { parseCliArgs, USAGE } from './cli-args.js';
import { LambdaInitError, LambdaSimError, startLambda } from './index.js';

async function main(): Promise<number> {
  const command = parseCliArgs(process.argv.slice(2));
  if (command.kind === 'usage') {
    process.stderr.write(USAGE);
    return command.exitCode;
  }
  const lambda = await startLambda(command.options);
  process.stdout.write(
    `${JSON.stringify({ initDurationMs: lambda.initDurationMs, runtimeApi: lambda.runtimeApi })}\n`,
  );
  let failures = 0;
  try {
    for (let i = 0; i < command.count; i++) {
      const result = await lambda.invoke(command.event);
      if (!result.ok) failures += 1;
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  } finally {
    process.stdout.write(`${JSON.stringify({ shutdown: await lambda.shutdown() })}\n`);
  }
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof LambdaInitError) {
      process.stderr.write(`${error.message}\n`);
    } else if (error instanceof LambdaSimError) {
      process.stderr.write(`lambda-sim: ${error.message}\n\n${USAGE}`);
    } else {
      process.stderr.write(
        `lambda-sim: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    }
    process.exitCode = 1;
  },
);
