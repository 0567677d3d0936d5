import type { FunctionConfiguration, LambdaClient } from '@aws-sdk/client-lambda';
import type { Command } from 'commander';
import { assertUnqualifiedFunction } from '../aws/arn.js';
import { lambdaClientFor } from '../aws/client-for.js';
import { OBSERVE_ALL_GROUP } from '../aws/constants.js';
import { describePlan, planChanges } from '../aws/describe-plan.js';
import {
  assertSupportedFunction,
  type ConfigurationPlan,
  functionArchitecture,
  planDisable,
  planEnable,
} from '../aws/enable-plan.js';
import { resolveLayerArn } from '../aws/layer-resolve.js';
import { listFunctions } from '../aws/list-functions.js';
import { applyConfigurationPlan, getFunctionConfiguration } from '../aws/update-function.js';
import { type CliDeps, type CommandContext, commandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { printTable } from '../table.js';
import { checkPolicyGroupKnown } from './policy-group-check.js';

const awsOptions = (command: Command) =>
  command
    .option('--region <region>', 'AWS region (env AWS_REGION; default: from the function ARN or the profile)')
    .option('--profile <name>', 'AWS profile (env AWS_PROFILE)');

export function registerLambdaCommand(program: Command, deps: CliDeps): void {
  const lambda = program
    .command('lambda')
    .description('enable, disable and list AppDefender on AWS Lambda functions (AWS SDK v3)')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender lambda list --region us-east-1
  $ appdefender lambda enable --function checkout --group payments-strict --dry-run
  $ appdefender lambda disable --function checkout`,
    );

  awsOptions(
    lambda
      .command('enable')
      .description('add the AppDefender layer and variables to a function (no code change, no deployment)')
      .requiredOption('--function <name|arn>', 'the function to protect')
      .option(
        '--group <name>',
        `policy group to enforce (env ES_POLICY_GROUP_NAME; default ${OBSERVE_ALL_GROUP})`,
      )
      .option('--license-key <key>', 'license key (env ES_LICENSE_KEY)')
      .option(
        '--layer-arn <arn>',
        'layer version to attach (default: newest "Extrinsec-Appdefender[-arm64]" layer in your account and region)',
      )
      .option('--layer-name <name>', 'layer name to look up when no --layer-arn is given')
      .option('--dry-run', 'print the change without applying it'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender lambda enable --function checkout --region us-east-1 --group payments-strict
  $ appdefender lambda enable --function arn:aws:lambda:eu-west-1:123456789012:function:api --dry-run
  $ appdefender lambda enable --function api --layer-arn arn:aws:lambda:us-east-1:123456789012:layer:appdefender:7

A previous AWS_LAMBDA_EXEC_WRAPPER is kept: it moves to ES_CHAINED_WRAPPER and runs after ours.
What enable changed is recorded in ES_ENABLED_BY, so disable restores exactly the previous state.`,
    )
    .action(async (_options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await enableCommand(ctx);
    });

  awsOptions(
    lambda
      .command('disable')
      .description('remove AppDefender from a function, restoring exactly what enable changed')
      .requiredOption('--function <name|arn>', 'the function')
      .option(
        '--force',
        'also remove AppDefender that was not added by `lambda enable` (no ES_ENABLED_BY record)',
      )
      .option('--dry-run', 'print the change without applying it'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender lambda disable --function checkout --region us-east-1
  $ appdefender lambda disable --function checkout --dry-run --json`,
    )
    .action(async (_options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await disableCommand(ctx);
    });

  awsOptions(
    lambda.command('list').description('functions in a region, with AppDefender status and policy group'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender lambda list --region us-east-1
  $ appdefender lambda list --json | jq '.functions[] | select(.enabled)'`,
    )
    .action(async (_options, command: Command) => {
      const ctx = await commandContext(command, deps);
      const { client, region } = await lambdaClientFor(ctx);
      const progress = ctx.out.progress(`Listing functions in ${region}`);
      const functions = await listFunctions(client).catch((error: unknown) => {
        progress.fail();
        throw error;
      });
      progress.succeed(`${functions.length} function${functions.length === 1 ? '' : 's'} in ${region}`);
      if (ctx.out.json) {
        ctx.out.printJson({ region, functions });
        return;
      }
      const { style } = ctx.out;
      const rows = functions.map((fn) => [
        fn.functionName,
        fn.runtime ?? '-',
        fn.architecture,
        fn.enabled ? style.green('enabled') : fn.supported ? 'off' : style.dim('unsupported'),
        fn.policyGroup ?? '-',
      ]);
      printTable(ctx, ['FUNCTION', 'RUNTIME', 'ARCH', 'APPDEFENDER', 'POLICY GROUP'], rows);
    });
}

async function enableCommand(ctx: CommandContext): Promise<void> {
  const functionName = ctx.options['function'] as string;
  const licenseKey = ctx.config.licenseKey?.value;
  if (!licenseKey) {
    throw new UsageError('No license key: AppDefender needs ES_LICENSE_KEY in the function', {
      hint: 'Pass --license-key, set ES_LICENSE_KEY, or add "licenseKey" to the config file (sign up in the dashboard or POST /api/v1/temporary-keys)',
    });
  }
  const policyGroup = ctx.config.policyGroup?.value ?? OBSERVE_ALL_GROUP;
  if (licenseKey.startsWith('adk_temp_') && policyGroup !== OBSERVE_ALL_GROUP) {
    throw new UsageError(`A temporary license key can only use ${OBSERVE_ALL_GROUP}, not "${policyGroup}"`, {
      hint: 'Sign up for a free account to use your own policy groups, or drop --group',
    });
  }
  assertUnqualifiedFunction(functionName);
  const { client, region } = await lambdaClientFor(ctx, functionName);
  const initial = await getFunctionConfiguration(client, functionName);
  assertSupportedFunction(initial);
  const architecture = functionArchitecture(initial);
  const layerArn = await resolveLayerArn(client, {
    architecture,
    region,
    layerArn: ctx.options['layerArn'] as string | undefined,
    layerName: ctx.options['layerName'] as string | undefined,
    warn: ctx.out.warn,
  });
  await checkPolicyGroupKnown(ctx, policyGroup);
  const request = { layerArn, licenseKey, policyGroup, apiUrl: ctx.config.apiUrl?.value };
  await applyPlan(ctx, {
    verb: 'Enabling AppDefender on',
    functionName,
    region,
    client,
    initialPlan: planEnable(initial, request),
    computePlan: (fn) => planEnable(fn, request),
  });
}

async function disableCommand(ctx: CommandContext): Promise<void> {
  const functionName = ctx.options['function'] as string;
  const force = ctx.options['force'] === true;
  assertUnqualifiedFunction(functionName);
  const { client, region } = await lambdaClientFor(ctx, functionName);
  const initial = await getFunctionConfiguration(client, functionName);
  await applyPlan(ctx, {
    verb: 'Disabling AppDefender on',
    functionName,
    region,
    client,
    initialPlan: planDisable(initial, { force }),
    computePlan: (fn) => planDisable(fn, { force }),
  });
}

async function applyPlan(
  ctx: CommandContext,
  args: {
    verb: string;
    functionName: string;
    region: string;
    client: LambdaClient;
    initialPlan: ConfigurationPlan;
    computePlan: (fn: FunctionConfiguration) => ConfigurationPlan;
  },
): Promise<void> {
  const dryRun = ctx.options['dryRun'] === true;
  const { out } = ctx;
  if (dryRun) {
    report(ctx, args.initialPlan, { region: args.region, dryRun, applied: false });
    return;
  }
  if (!args.initialPlan.changed) {
    report(ctx, args.initialPlan, { region: args.region, dryRun, applied: false });
    return;
  }
  const progress = out.progress(`${args.verb} ${args.functionName}`);
  try {
    const { plan } = await applyConfigurationPlan(args.client, args.functionName, args.computePlan, {
      sleep: ctx.deps.sleep,
      onStatus: (status) => progress.update(status),
    });
    progress.succeed(`${args.verb} ${args.functionName}`);
    report(ctx, plan, { region: args.region, dryRun, applied: plan.changed });
  } catch (error) {
    progress.fail();
    throw error;
  }
}

function report(
  ctx: CommandContext,
  plan: ConfigurationPlan,
  meta: { region: string; dryRun: boolean; applied: boolean },
): void {
  const { out } = ctx;
  if (out.json) {
    out.printJson({
      functionName: plan.functionName,
      region: meta.region,
      dryRun: meta.dryRun,
      changed: plan.changed,
      applied: meta.applied,
      changes: planChanges(plan),
    });
    return;
  }
  const heading = meta.dryRun
    ? `Dry run: would change ${plan.functionName} (${meta.region})`
    : meta.applied
      ? `Updated ${plan.functionName} (${meta.region})`
      : `${plan.functionName} (${meta.region})`;
  out.line(out.style.bold(heading));
  for (const line of describePlan(plan, out.style)) out.line(line);
}
