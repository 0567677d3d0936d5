import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  type FunctionConfiguration,
  GetLayerVersionByArnCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda';
import type { Command } from 'commander';
import { ApiClient } from '../api/api-client.js';
import { isAppDefenderLayer } from '../aws/arn.js';
import { lambdaClientFor } from '../aws/client-for.js';
import {
  API_URL_VAR,
  CHAINED_WRAPPER_VAR,
  EXEC_WRAPPER_VAR,
  LICENSE_KEY_VAR,
  MAX_ENVIRONMENT_BYTES,
  OBSERVE_ALL_GROUP,
  POLICY_GROUP_VAR,
  SUPPORTED_RUNTIMES,
  WRAPPER_PATH,
} from '../aws/constants.js';
import { currentSettings, environmentBytes, functionArchitecture } from '../aws/enable-plan.js';
import { getFunctionConfiguration } from '../aws/update-function.js';
import { type CliDeps, type CommandContext, commandContext } from '../context.js';
import { AuthError, CliError, ExitCode, NotFoundError, SilentExit, UnreachableError } from '../errors.js';
import { findAgent, layerTreeDir } from '../local/paths.js';
import { loadPolicyFile } from '../local/policy-file.js';

export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  message: string;
  fix?: string;
}

export function registerDoctorCommand(program: Command, deps: CliDeps): void {
  program
    .command('doctor')
    .description("check a function's or the local setup's configuration and say exactly what is wrong")
    .option('--function <name|arn>', 'check this Lambda function instead of the local setup')
    .option('--region <region>', 'AWS region (env AWS_REGION)')
    .option('--profile <name>', 'AWS profile (env AWS_PROFILE)')
    .option('--license-key <key>', 'license key to check (env ES_LICENSE_KEY)')
    .option('--group <name>', 'policy group to check (env ES_POLICY_GROUP_NAME)')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender doctor                                  # local setup: config, agent, layer, control plane
  $ appdefender doctor --function checkout --region us-east-1
  $ appdefender doctor --function checkout --json

Exit code 1 when any check fails (warnings alone exit 0).`,
    )
    .action(async (_options, command: Command) => {
      const ctx = await commandContext(command, deps);
      const functionName = ctx.options['function'] as string | undefined;
      const checks = functionName ? await checkFunction(ctx, functionName) : await checkLocal(ctx);
      printChecks(ctx, checks);
      if (checks.some((check) => check.status === 'fail')) throw new SilentExit(ExitCode.failure);
    });
}

function printChecks(ctx: CommandContext, checks: Check[]): void {
  const { out } = ctx;
  if (out.json) {
    out.printJson({ ok: !checks.some((c) => c.status === 'fail'), checks });
    return;
  }
  const marks = { ok: out.style.green('✔'), warn: out.style.yellow('!'), fail: out.style.red('✖') };
  for (const check of checks) {
    out.line(`${marks[check.status]} ${check.name}: ${check.message}`);
    if (check.fix && check.status !== 'ok') out.line(`    ${out.style.cyan('fix:')} ${check.fix}`);
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  out.line();
  out.line(
    failed === 0
      ? out.style.green(`All good${warned ? ` (${warned} warning${warned === 1 ? '' : 's'})` : ''}.`)
      : out.style.red(`${failed} problem${failed === 1 ? '' : 's'} found.`),
  );
}

const licenseKeyPattern = /^adk_(live|temp)_[A-Za-z0-9_-]{8,}$/;

function checkLicenseKey(key: string | undefined, group: string | undefined, where: string): Check[] {
  if (!key) {
    return [
      {
        name: LICENSE_KEY_VAR,
        status: 'fail',
        message: `not set ${where}`,
        fix: 'Set ES_LICENSE_KEY to your license key (dashboard, or POST /api/v1/temporary-keys for a temporary one)',
      },
    ];
  }
  if (!licenseKeyPattern.test(key)) {
    return [
      {
        name: LICENSE_KEY_VAR,
        status: 'fail',
        message: `"${key.slice(0, 12)}…" does not look like a license key (adk_live_… or adk_temp_…)`,
        fix: 'Copy the license key again from the dashboard; an api token (adt_…) is not a license key',
      },
    ];
  }
  const checks: Check[] = [
    { name: LICENSE_KEY_VAR, status: 'ok', message: `${key.slice(0, 9)}… is well-formed` },
  ];
  if (key.startsWith('adk_temp_') && group && group !== OBSERVE_ALL_GROUP) {
    checks.push({
      name: POLICY_GROUP_VAR,
      status: 'fail',
      message: `a temporary license key can only use ${OBSERVE_ALL_GROUP}, not "${group}"`,
      fix: `Set ES_POLICY_GROUP_NAME=${OBSERVE_ALL_GROUP}, or sign up for a free account and use its license key`,
    });
  }
  return checks;
}

/** Reachability, token and policy group on the control plane. */
async function checkControlPlane(
  ctx: CommandContext,
  apiUrl: string | undefined,
  group: string | undefined,
  apiUrlOrigin: string,
): Promise<Check[]> {
  if (!apiUrl) {
    return [
      {
        name: API_URL_VAR,
        status: group && group !== OBSERVE_ALL_GROUP ? 'warn' : 'ok',
        message: `not set ${apiUrlOrigin}: no control plane configured`,
        fix: 'Set ES_API_URL to your control plane (e.g. http://localhost:8080 from `appdefender server`)',
      },
    ];
  }
  let api: ApiClient;
  try {
    api = new ApiClient({ baseUrl: apiUrl, token: ctx.config.apiToken?.value, fetch: ctx.deps.fetch });
  } catch (error) {
    return [
      {
        name: API_URL_VAR,
        status: 'fail',
        message: (error as Error).message,
        fix: 'Set ES_API_URL to an http(s) URL',
      },
    ];
  }
  const checks: Check[] = [];
  try {
    await api.request('GET', '/healthz');
    checks.push({ name: 'control plane', status: 'ok', message: `${api.baseUrl.origin} is reachable` });
  } catch (error) {
    if (error instanceof UnreachableError) {
      return [
        {
          name: 'control plane',
          status: 'fail',
          message: error.message,
          fix: 'Start it (`appdefender server`) or correct ES_API_URL / --api-url',
        },
      ];
    }
    checks.push({
      name: 'control plane',
      status: 'fail',
      message: `${api.baseUrl.origin}/healthz: ${(error as Error).message}`,
    });
    return checks;
  }
  if (!ctx.config.apiToken) {
    checks.push({
      name: 'api token',
      status: 'warn',
      message: 'not set: cannot check the policy group on the server',
      fix: 'Set ES_API_TOKEN (shown at sign-up) to let doctor and `policy` commands use the API',
    });
    return checks;
  }
  try {
    await api.request('GET', '/api/v1/me');
    checks.push({ name: 'api token', status: 'ok', message: `accepted by ${api.baseUrl.origin}` });
  } catch (error) {
    if (error instanceof AuthError) {
      checks.push({
        name: 'api token',
        status: 'fail',
        message: error.message,
        fix: 'Use an api token (adt_…) of this server',
      });
      return checks;
    }
    throw error;
  }
  if (group && group !== OBSERVE_ALL_GROUP) {
    try {
      await api.request('GET', `/api/v1/policy-groups/${encodeURIComponent(group)}`);
      checks.push({ name: 'policy group', status: 'ok', message: `"${group}" exists on the server` });
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      checks.push({
        name: 'policy group',
        status: 'fail',
        message: `"${group}" does not exist on ${api.baseUrl.origin}`,
        fix: 'Create it (`appdefender policy push FILE` or the dashboard) or fix ES_POLICY_GROUP_NAME',
      });
    }
  }
  return checks;
}

async function checkLocal(ctx: CommandContext): Promise<Check[]> {
  const checks: Check[] = [];
  const major = Number(process.versions.node.split('.')[0]);
  checks.push(
    major >= 20
      ? { name: 'Node.js', status: 'ok', message: process.versions.node }
      : {
          name: 'Node.js',
          status: 'fail',
          message: `${process.versions.node} is too old`,
          fix: 'Use Node.js 20 or later',
        },
  );
  checks.push({
    name: 'config file',
    status: 'ok',
    message: ctx.config.configFileFound
      ? `${ctx.config.configPath} (valid)`
      : `${ctx.config.configPath} (none; optional)`,
  });
  const agent = findAgent(ctx.deps.env);
  checks.push(
    agent.path
      ? { name: 'agent', status: 'ok', message: agent.path }
      : {
          name: 'agent',
          status: 'warn',
          message: `no agent bundle (looked at ${agent.searched.join(', ')}); \`appdefender run\` needs it`,
          fix: 'Run `npm run build` in the AppDefender checkout, or set APPDEFENDER_AGENT to agent.cjs',
        },
  );
  checks.push(...checkLayerTree(layerTreeDir));
  const policyFile = ctx.deps.env['ES_POLICY_FILE'];
  if (policyFile) {
    try {
      const loaded = await loadPolicyFile(policyFile);
      checks.push({
        name: 'ES_POLICY_FILE',
        status: 'ok',
        message: `${policyFile} is valid (${loaded.policies[0]?.name})`,
      });
    } catch (error) {
      const detail =
        error instanceof CliError
          ? [error.message, ...error.details.map((d) => `${d.field}: ${d.message}`)].join('; ')
          : String(error);
      checks.push({
        name: 'ES_POLICY_FILE',
        status: 'fail',
        message: detail,
        fix: 'Fix the file (`appdefender policy validate FILE`)',
      });
    }
  }
  const group = ctx.config.policyGroup?.value;
  if (ctx.config.licenseKey || ctx.config.policyGroup) {
    checks.push(...checkLicenseKey(ctx.config.licenseKey?.value, group, 'in the environment or config'));
  }
  checks.push(
    ...(await checkControlPlane(ctx, ctx.config.apiUrl?.value, group, 'in flags, environment or config')),
  );
  return checks;
}

function checkLayerTree(dir: string): Check[] {
  const files = [
    { path: 'appdefender_wrapper', executable: true },
    { path: 'extensions/appdefender', executable: true },
    { path: 'appdefender/agent.cjs', executable: false },
    { path: 'appdefender/extension.cjs', executable: false },
  ];
  if (!existsSync(dir)) {
    return [
      {
        name: 'layer',
        status: 'warn',
        message: `not built (${dir}); needed for \`layer publish\``,
        fix: 'Run `appdefender layer build`',
      },
    ];
  }
  const problems: string[] = [];
  for (const file of files) {
    const full = join(dir, file.path);
    try {
      accessSync(full, file.executable ? constants.X_OK : constants.R_OK);
    } catch {
      problems.push(existsSync(full) ? `${file.path} is not executable` : `${file.path} is missing`);
    }
  }
  return problems.length === 0
    ? [{ name: 'layer', status: 'ok', message: `${dir} is complete` }]
    : [
        {
          name: 'layer',
          status: 'fail',
          message: problems.join('; '),
          fix: 'Rebuild it with `appdefender layer build`',
        },
      ];
}

async function checkFunction(ctx: CommandContext, functionName: string): Promise<Check[]> {
  const { client } = await lambdaClientFor(ctx, functionName);
  const fn = await getFunctionConfiguration(client, functionName);
  const checks: Check[] = [];
  const settings = currentSettings(fn);
  const env = settings.environment;
  const enableHint = `run \`appdefender lambda enable --function ${functionName}\``;

  if (fn.PackageType === 'Image') {
    checks.push({
      name: 'package type',
      status: 'fail',
      message: 'container image: Lambda layers do not apply',
      fix: 'Copy the layer into the image (docs/cli.md)',
    });
  }
  const runtime = fn.Runtime;
  checks.push(
    runtime && (SUPPORTED_RUNTIMES as readonly string[]).includes(runtime)
      ? { name: 'runtime', status: 'ok', message: runtime }
      : {
          name: 'runtime',
          status: 'fail',
          message: `${runtime ?? '(none)'} is not supported`,
          fix: `Use one of ${SUPPORTED_RUNTIMES.join(', ')}`,
        },
  );
  if (fn.LastUpdateStatus === 'Failed') {
    checks.push({
      name: 'last update',
      status: 'fail',
      message: `failed: ${fn.LastUpdateStatusReason ?? 'no reason given'}`,
    });
  }
  checks.push(...(await checkFunctionLayer(client, fn, enableHint)));

  const wrapper = env[EXEC_WRAPPER_VAR];
  if (wrapper === WRAPPER_PATH) checks.push({ name: EXEC_WRAPPER_VAR, status: 'ok', message: WRAPPER_PATH });
  else if (!wrapper) {
    checks.push({
      name: EXEC_WRAPPER_VAR,
      status: 'fail',
      message: 'not set: AppDefender is not loaded',
      fix: `Set ${EXEC_WRAPPER_VAR}=${WRAPPER_PATH}, or ${enableHint}`,
    });
  } else {
    checks.push({
      name: EXEC_WRAPPER_VAR,
      status: 'fail',
      message: `is ${wrapper}, not ${WRAPPER_PATH}: AppDefender is not loaded`,
      fix: `Set ${EXEC_WRAPPER_VAR}=${WRAPPER_PATH} and ${CHAINED_WRAPPER_VAR}=${wrapper} to keep the other wrapper`,
    });
  }
  const chained = env[CHAINED_WRAPPER_VAR];
  if (chained !== undefined) {
    if (!chained.startsWith('/')) {
      checks.push({
        name: CHAINED_WRAPPER_VAR,
        status: 'fail',
        message: `"${chained}" is not an absolute path`,
        fix: 'Use the absolute path of the other wrapper',
      });
    } else if (chained.endsWith('/appdefender_wrapper')) {
      checks.push({
        name: CHAINED_WRAPPER_VAR,
        status: 'fail',
        message: "points to AppDefender's own wrapper (a loop; it is skipped)",
        fix: `Remove ${CHAINED_WRAPPER_VAR}`,
      });
    } else {
      checks.push({
        name: CHAINED_WRAPPER_VAR,
        status: 'ok',
        message: `${chained} runs after AppDefender's wrapper`,
      });
    }
  }
  const group = env[POLICY_GROUP_VAR];
  if (env['ES_POLICY_FILE']) {
    checks.push({
      name: 'ES_POLICY_FILE',
      status: 'ok',
      message: `${env['ES_POLICY_FILE']} (offline mode: no control plane used)`,
    });
  } else {
    checks.push(...checkLicenseKey(env[LICENSE_KEY_VAR], group, 'in the function'));
    checks.push(
      group
        ? { name: POLICY_GROUP_VAR, status: 'ok', message: group }
        : {
            name: POLICY_GROUP_VAR,
            status: 'fail',
            message: 'not set: the agent has no policy group to enforce',
            fix: `Set ${POLICY_GROUP_VAR} (e.g. ${OBSERVE_ALL_GROUP})`,
          },
    );
    checks.push(
      ...(await checkControlPlane(
        ctx,
        env[API_URL_VAR] ?? ctx.config.apiUrl?.value,
        group,
        'in the function',
      )),
    );
  }
  const bytes = environmentBytes(env);
  if (bytes > MAX_ENVIRONMENT_BYTES * 0.9) {
    checks.push({
      name: 'environment size',
      status: 'warn',
      message: `${bytes} of ${MAX_ENVIRONMENT_BYTES} bytes used`,
    });
  }
  return checks;
}

async function checkFunctionLayer(
  client: LambdaClient,
  fn: FunctionConfiguration,
  enableHint: string,
): Promise<Check[]> {
  const layers = currentSettings(fn).layers.filter(isAppDefenderLayer);
  const architecture = functionArchitecture(fn);
  if (layers.length === 0) {
    return [
      {
        name: 'layer',
        status: 'fail',
        message: 'no AppDefender layer attached',
        fix: `Add the ${architecture} layer, or ${enableHint}`,
      },
    ];
  }
  if (layers.length > 1) {
    return [
      {
        name: 'layer',
        status: 'fail',
        message: `${layers.length} AppDefender layers attached (${layers.join(', ')})`,
        fix: 'Keep only one',
      },
    ];
  }
  const arn = layers[0]!;
  let compatible: string[] | undefined;
  try {
    compatible = (await client.send(new GetLayerVersionByArnCommand({ Arn: arn }))).CompatibleArchitectures;
  } catch {
    // Unreadable (another account's layer): fall back to the name, which says -arm64 for arm64 builds.
    compatible = /arm64/i.test(arn) ? ['arm64'] : undefined;
  }
  if (compatible && compatible.length > 0 && !compatible.includes(architecture)) {
    return [
      {
        name: 'layer',
        status: 'fail',
        message: `${arn} is built for ${compatible.join(', ')} but the function runs on ${architecture}`,
        fix: `Attach the ${architecture} layer instead, or ${enableHint}`,
      },
    ];
  }
  return [{ name: 'layer', status: 'ok', message: `${arn} (${architecture})` }];
}
