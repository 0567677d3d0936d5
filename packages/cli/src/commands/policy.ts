import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { POLICY_GROUP_FIELDS, type PolicyGroup, validatePolicyGroup } from '@appdefender/policy';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import type { ApiClient } from '../api/api-client.js';
import { apiClientFor } from '../api/api-from-context.js';
import { type CliDeps, type CommandContext, commandContext } from '../context.js';
import { CliError, ExitCode, NotFoundError, SilentExit, ValidationError } from '../errors.js';
import { loadPolicyFile, policyFields } from '../local/policy-file.js';
import { printTable } from '../table.js';

type ServerGroup = PolicyGroup & { version?: number; updatedAt?: string; readOnly?: boolean };

export function registerPolicyCommand(program: Command, deps: CliDeps): void {
  const policy = program
    .command('policy')
    .description('policy groups as code (YAML or JSON files, for Git and CI)')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender policy validate payments.yaml
  $ appdefender policy diff payments.yaml --exit-code && appdefender policy push payments.yaml
  $ appdefender policy pull payments-strict > payments.yaml`,
    );

  policy
    .command('validate')
    .description('check policy files with the same validator the agent and server use')
    .argument('<files...>', 'policy files (.yaml, .yml or .json; one group or a list of groups each)')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender policy validate policies/payments.yaml
  $ appdefender policy validate policies/*.yaml --json

Exit code 1 when a file is invalid; every problem is printed with its field.`,
    )
    .action(async (files: string[], _options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await validateCommand(ctx, files);
    });

  policy
    .command('push')
    .description('create or update the policy groups of a file on the control plane')
    .argument('<file>', 'policy file')
    .option('--dry-run', 'show what would change without changing it')
    .addHelpText(
      'after',
      `
Examples:
  $ ES_API_URL=https://appdefender.example.com ES_API_TOKEN=adt_... appdefender policy push payments.yaml
  $ appdefender policy push policies.yaml --dry-run`,
    )
    .action(async (file: string, _options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await pushCommand(ctx, file);
    });

  policy
    .command('pull')
    .description('download a policy group as YAML (or JSON)')
    .argument('<name>', 'policy group name')
    .option('-o, --out <file>', 'write to this file (format from its extension) instead of stdout')
    .option('--format <format>', 'yaml or json (default: from --out, else yaml)')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender policy pull payments-strict > payments-strict.yaml
  $ appdefender policy pull payments-strict --out policies/payments-strict.json`,
    )
    .action(async (name: string, _options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await pullCommand(ctx, name);
    });

  policy
    .command('list')
    .description("list the account's policy groups")
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender policy list
  $ appdefender policy list --json`,
    )
    .action(async (_options, command: Command) => {
      const ctx = await commandContext(command, deps);
      const groups = await fetchGroups(apiClientFor(ctx, { needsToken: true }));
      if (ctx.out.json) {
        ctx.out.printJson({ policyGroups: groups });
        return;
      }
      printTable(
        ctx,
        ['NAME', 'NETWORK', 'FILESYSTEM', 'PROCESS', 'TERMINATE', 'VERSION', 'UPDATED'],
        groups.map((group) => [
          group.readOnly ? `${group.name} ${ctx.out.style.dim('(read-only)')}` : group.name,
          group.network,
          group.filesystem,
          group.process,
          group.terminateOnDeny ? 'yes' : 'no',
          group.version === undefined ? '-' : String(group.version),
          group.updatedAt ?? '-',
        ]),
      );
    });

  policy
    .command('diff')
    .description("compare a policy file with the control plane's groups")
    .argument('<file>', 'policy file')
    .option('--exit-code', 'exit with 1 when there are differences (like git diff --exit-code)')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender policy diff payments.yaml
  $ appdefender policy diff policies.yaml --exit-code   # in CI: fail when the server drifted`,
    )
    .action(async (file: string, _options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await diffCommand(ctx, file);
    });
}

async function validateCommand(ctx: CommandContext, files: string[]): Promise<void> {
  const results: {
    file: string;
    valid: boolean;
    groups: string[];
    errors: unknown[];
    warnings: unknown[];
  }[] = [];
  const { out } = ctx;
  for (const file of files) {
    try {
      const loaded = await loadPolicyFile(file);
      results.push({
        file,
        valid: true,
        groups: loaded.policies.map((p) => p.name),
        errors: [],
        warnings: loaded.warnings,
      });
      if (!out.json) {
        out.line(`${out.style.green('✔')} ${file}: valid (${loaded.policies.map((p) => p.name).join(', ')})`);
        for (const warning of loaded.warnings)
          out.line(`  ${out.style.yellow('warning')} ${warning.field}: ${warning.message}`);
      }
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      results.push({ file, valid: false, groups: [], errors: error.details, warnings: [] });
      if (!out.json) {
        out.line(`${out.style.red('✖')} ${error.message}`);
        for (const detail of error.details) out.line(`  ${out.style.bold(detail.field)}: ${detail.message}`);
      }
    }
  }
  if (out.json) out.printJson({ valid: results.every((r) => r.valid), files: results });
  if (results.some((r) => !r.valid)) throw new SilentExit(ExitCode.failure);
}

/** The body of GET /policy-groups/{name} may be the group itself or `{ policyGroup }`. */
function unwrapGroup(body: unknown): ServerGroup {
  const value = (body as { policyGroup?: unknown })?.policyGroup ?? body;
  if (typeof value !== 'object' || value === null || typeof (value as { name?: unknown }).name !== 'string') {
    throw new CliError(
      'BAD_RESPONSE',
      ExitCode.failure,
      'The control plane sent a policy group without a name',
    );
  }
  return value as ServerGroup;
}

async function fetchGroups(api: ApiClient): Promise<ServerGroup[]> {
  const body = await api.request<{ policyGroups?: unknown }>('GET', '/api/v1/policy-groups');
  if (!Array.isArray(body.policyGroups)) {
    throw new CliError('BAD_RESPONSE', ExitCode.failure, 'The control plane sent no policyGroups list');
  }
  return body.policyGroups.map(unwrapGroup);
}

async function fetchGroup(api: ApiClient, name: string): Promise<ServerGroup | undefined> {
  try {
    return unwrapGroup(await api.request('GET', `/api/v1/policy-groups/${encodeURIComponent(name)}`));
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** The server's copy normalised like the local one, so formatting differences are no differences. */
function normalizeRemote(group: ServerGroup): PolicyGroup {
  const fields = policyFields(group as unknown as Record<string, unknown>);
  const result = validatePolicyGroup(fields);
  return result.ok ? result.policy : (fields as unknown as PolicyGroup);
}

export interface FieldDifference {
  field: string;
  server: unknown;
  local: unknown;
}

export function diffPolicies(server: PolicyGroup, local: PolicyGroup): FieldDifference[] {
  const differences: FieldDifference[] = [];
  for (const field of POLICY_GROUP_FIELDS) {
    const a = server[field];
    const b = local[field];
    if (JSON.stringify(a) !== JSON.stringify(b)) differences.push({ field, server: a, local: b });
  }
  return differences;
}

async function pushCommand(ctx: CommandContext, file: string): Promise<void> {
  const loaded = await loadPolicyFile(file);
  for (const warning of loaded.warnings) ctx.out.warn(`${warning.field}: ${warning.message}`);
  const api = apiClientFor(ctx, { needsToken: true });
  const dryRun = ctx.options['dryRun'] === true;
  const results: { name: string; result: 'created' | 'updated' | 'unchanged'; version?: number }[] = [];
  for (const policy of loaded.policies) {
    const existing = await fetchGroup(api, policy.name);
    if (existing?.readOnly) {
      throw new CliError(
        'READ_ONLY',
        ExitCode.failure,
        `The policy group "${policy.name}" is read-only on the server`,
        {
          hint: 'Give your group another name',
        },
      );
    }
    if (existing && diffPolicies(normalizeRemote(existing), policy).length === 0) {
      results.push({
        name: policy.name,
        result: 'unchanged',
        ...(existing.version === undefined ? {} : { version: existing.version }),
      });
      continue;
    }
    if (dryRun) {
      results.push({ name: policy.name, result: existing ? 'updated' : 'created' });
      continue;
    }
    const body = existing
      ? await api.request('PUT', `/api/v1/policy-groups/${encodeURIComponent(policy.name)}`, policy)
      : await api.request('POST', '/api/v1/policy-groups', policy);
    const saved = unwrapGroup(body);
    results.push({
      name: policy.name,
      result: existing ? 'updated' : 'created',
      ...(saved.version === undefined ? {} : { version: saved.version }),
    });
  }
  if (ctx.out.json) {
    ctx.out.printJson({ dryRun, results });
    return;
  }
  for (const r of results) {
    const verb = dryRun && r.result !== 'unchanged' ? `would be ${r.result}` : r.result;
    ctx.out.line(`${r.name}: ${verb}${r.version === undefined ? '' : ` (version ${r.version})`}`);
  }
}

async function pullCommand(ctx: CommandContext, name: string): Promise<void> {
  const api = apiClientFor(ctx, { needsToken: true });
  const group = await fetchGroup(api, name);
  if (!group) throw new NotFoundError(`The policy group "${name}" does not exist on ${api.baseUrl.origin}`);
  const out = ctx.options['out'] as string | undefined;
  const requested = ctx.options['format'] as string | undefined;
  if (requested && requested !== 'yaml' && requested !== 'json') {
    throw new CliError('USAGE', ExitCode.usage, `--format must be yaml or json, not "${requested}"`);
  }
  const format =
    requested ?? (out && extname(out).toLowerCase() === '.json' ? 'json' : ctx.out.json ? 'json' : 'yaml');
  const fields = policyFields(group as unknown as Record<string, unknown>);
  const text = format === 'json' ? `${JSON.stringify(fields, null, 2)}\n` : stringify(fields);
  if (out) {
    await writeFile(out, text);
    ctx.out.info(`Wrote ${name} to ${out}`);
  } else {
    ctx.deps.streams.stdout.write(text);
  }
}

async function diffCommand(ctx: CommandContext, file: string): Promise<void> {
  const loaded = await loadPolicyFile(file);
  const api = apiClientFor(ctx, { needsToken: true });
  const report: { name: string; status: 'new' | 'same' | 'different'; differences: FieldDifference[] }[] = [];
  for (const policy of loaded.policies) {
    const existing = await fetchGroup(api, policy.name);
    if (!existing) {
      report.push({ name: policy.name, status: 'new', differences: [] });
      continue;
    }
    const differences = diffPolicies(normalizeRemote(existing), policy);
    report.push({ name: policy.name, status: differences.length === 0 ? 'same' : 'different', differences });
  }
  const { out } = ctx;
  if (out.json) {
    out.printJson({ file, groups: report });
  } else {
    for (const group of report) {
      if (group.status === 'new')
        out.line(out.style.green(`+ ${group.name}: not on the server (push creates it)`));
      else if (group.status === 'same') out.line(`  ${group.name}: same as the server`);
      else {
        out.line(out.style.bold(`~ ${group.name}:`));
        for (const d of group.differences) {
          out.line(out.style.red(`    - ${d.field}: ${JSON.stringify(d.server)}   (server)`));
          out.line(out.style.green(`    + ${d.field}: ${JSON.stringify(d.local)}   (${file})`));
        }
      }
    }
  }
  if (ctx.options['exitCode'] === true && report.some((g) => g.status !== 'same'))
    throw new SilentExit(ExitCode.failure);
}
