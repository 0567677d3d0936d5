/**
 * The fallback lifecycle when the extension cannot do its job (bad configuration, internal error):
 * tell the agent there is no policy from us, stay registered and answer every event at once, so
 * the function keeps running exactly as it would without AppDefender's extension.
 */
import { describeError } from './errors.js';
import { nextEvent, register } from './lambda-api.js';
import type { LogLine } from './log.js';
import { removeIfPresent, runtimeFilesIn, writeFileAtomic } from './runtime-dir.js';

export async function runIdle(
  env: Record<string, string | undefined>,
  reason: string,
  log: LogLine,
): Promise<void> {
  const lambdaApi = env.AWS_LAMBDA_RUNTIME_API;
  if (!lambdaApi) {
    log('AWS_LAMBDA_RUNTIME_API is not set: not running inside Lambda, exiting');
    return;
  }
  const files = runtimeFilesIn(env.ES_RUNTIME_DIR?.trim() || '/tmp/.appdefender');
  try {
    if (!env.ES_POLICY_FILE) {
      writeFileAtomic(files.policyError, JSON.stringify({ error: reason, time: new Date().toISOString() }));
      removeIfPresent(files.policy);
    }
    removeIfPresent(files.policyPending);
  } catch {
    // the agent waits its bounded time for the marker, then applies its fail mode
  }
  let extensionId = env.APPDEFENDER_EXTENSION_ID;
  try {
    extensionId ||= (await register(lambdaApi, env.APPDEFENDER_EXTENSION_NAME || 'appdefender')).extensionId;
  } catch (error) {
    log(`idle: registration failed (${describeError(error)}); exiting`);
    return;
  }
  log('idle: answering lifecycle events without delivering events');
  for (;;) {
    try {
      const event = await nextEvent(lambdaApi, extensionId);
      if (event.eventType === 'SHUTDOWN') process.exit(0);
    } catch (error) {
      log(`idle: event/next failed (${describeError(error)}); exiting`);
      process.exit(0);
    }
  }
}
