/**
 * Entry point of appdefender/extension.cjs, started by the extensions/appdefender launcher.
 * Whatever fails here, the process stays a well-behaved extension (registered, answering events):
 * an extension that dies makes Lambda fail the whole environment.
 */
import { readConfig } from './config.js';
import { describeError } from './errors.js';
import { runExtension } from './extension.js';
import { runIdle } from './idle.js';
import { logToStderr } from './log.js';

process.on('uncaughtException', (error) =>
  logToStderr(`internal error (continuing): ${describeError(error)}`),
);
process.on('unhandledRejection', (error) =>
  logToStderr(`internal error (continuing): ${describeError(error)}`),
);

async function main(): Promise<void> {
  let config: ReturnType<typeof readConfig>;
  try {
    config = readConfig(process.env);
  } catch (error) {
    logToStderr(`configuration error: ${describeError(error)}`);
    await runIdle(process.env, describeError(error), logToStderr);
    return;
  }
  try {
    await runExtension({ config, log: logToStderr, ...telemetryHost() });
  } catch (error) {
    logToStderr(`stopped protecting event delivery: ${describeError(error)}`);
    await runIdle(process.env, describeError(error), logToStderr);
  }
}

function telemetryHost(): { telemetryListenHost?: string } {
  const host = process.env.ES_TELEMETRY_LISTEN_HOST?.trim();
  return host ? { telemetryListenHost: host } : {};
}

void main();
