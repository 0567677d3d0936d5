/** The `appdefender` CLI as a library: the program, and the AWS operations for scripts and tests. */

export {
  CHAINED_WRAPPER_VAR,
  DEFAULT_LAYER_NAMES,
  ENABLED_BY_VAR,
  SUPPORTED_RUNTIMES,
  WRAPPER_PATH,
} from './aws/constants.js';
export {
  appDefenderStatus,
  type ConfigurationPlan,
  type EnableRecord,
  planDisable,
  planEnable,
} from './aws/enable-plan.js';
export { type FunctionSummary, listFunctions } from './aws/list-functions.js';
export { type PublishedLayer, publishLayer } from './aws/publish-layer.js';
export { applyConfigurationPlan } from './aws/update-function.js';
export { configFilePath, resolveConfig } from './config.js';
export type { CliDeps } from './context.js';
export { CliError, ExitCode } from './errors.js';
export { createProgram, runCli } from './program.js';
