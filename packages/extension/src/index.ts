/**
 * @appdefender/extension: the AWS Lambda external extension of AppDefender. The Lambda layer runs
 * it as appdefender/extension.cjs (bundled by build.mjs) through the extensions/appdefender launcher.
 */
export { type ExtensionConfig, readConfig } from './config.js';
export { ExtensionError, type ExtensionErrorCode } from './errors.js';
export { type DrainResult, EventShipper } from './event-shipper.js';
export { type EventBatch, EventSpool, parseEventLine } from './event-spool.js';
export { type RunOptions, runExtension } from './extension.js';
export { buildFunctionReport, type FunctionReport, lambdaArchitecture } from './function-report.js';
export {
  type LifecycleEvent,
  parseLifecycleEvent,
  parseRegisterBody,
  type RegisterInfo,
} from './lambda-api.js';
export { type PolicyOutcome, providePolicy } from './policy-fetcher.js';
export { type RuntimeFiles, runtimeFilesIn } from './runtime-dir.js';
export {
  runtimeDoneRequestIds,
  startTelemetryListener,
  type TelemetryListener,
} from './telemetry-listener.js';
