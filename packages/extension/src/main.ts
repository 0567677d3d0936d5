/**
 * Entry point of appdefender/extension.cjs, started by the extensions/appdefender launcher.
 * Whatever fails here, the process stays a well-behaved extension (registered, answering events):
 * an extension that dies makes Lambda fail the whole environment.
 *
 * Two stages, because the agent in the runtime waits for the policy while this process boots: the
 * policy fetch starts first, with only what it needs loaded (configuration, node:net or node:tls,
 * the policy validator); the rest of the extension (node:http, the Extensions and Telemetry API
 * clients, event delivery) is evaluated once the policy is handed over (or once the fetch has
 * taken a few milliseconds: see policySettledOrSlow). esbuild keeps the dynamically imported
 * modules in the same file, initialised on first import.
 */
import { readConfig } from './config.js';
import { describeError } from './errors.js';
import { logToStderr } from './log.js';
import { providePolicy } from './policy-fetcher.js';
import { runtimeFilesIn } from './runtime-dir.js';

/** See policySettledOrSlow. */
const STAGE_TWO_AFTER_MS = 5;

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
    await idle(describeError(error));
    return;
  }
  const policy = providePolicy(config, runtimeFilesIn(config.runtimeDir));
  await policySettledOrSlow(policy);
  try {
    const { runExtension } = await import('./extension.js');
    await runExtension({ config, log: logToStderr, policy, ...telemetryHost() });
  } catch (error) {
    logToStderr(`stopped protecting event delivery: ${describeError(error)}`);
    await idle(describeError(error));
  }
}

/**
 * When the rest of the extension may load. A control plane that answers within a few milliseconds
 * (same host or network) gets the whole process until the policy is handed over: loading the rest
 * meanwhile would delay the hand-off the agent waits for. One further away leaves this process idle
 * for the round trip (and TLS handshake): loading the rest then uses that time (an answer arriving
 * meanwhile waits at most for the step under way, a few milliseconds), and the extension is ready
 * to call `next` as soon as the policy is written.
 */
async function policySettledOrSlow(policy: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, STAGE_TWO_AFTER_MS);
  });
  await Promise.race([
    policy.then(
      () => undefined,
      () => undefined,
    ),
    slow,
  ]);
  clearTimeout(timer);
}

async function idle(reason: string): Promise<void> {
  const { runIdle } = await import('./idle.js');
  await runIdle(process.env, reason, logToStderr);
}

function telemetryHost(): { telemetryListenHost?: string } {
  const host = process.env.ES_TELEMETRY_LISTEN_HOST?.trim();
  return host ? { telemetryListenHost: host } : {};
}

void main();
