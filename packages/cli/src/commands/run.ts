import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OBSERVE_ALL, type PolicyGroup, validatePolicyGroup } from '@appdefender/policy';
import type { Command } from 'commander';
import { apiClientFor } from '../api/api-from-context.js';
import { OBSERVE_ALL_GROUP } from '../aws/constants.js';
import { type CliDeps, type CommandContext, commandContext } from '../context.js';
import { CliError, ExitCode, NotFoundError, SilentExit, UsageError, ValidationError } from '../errors.js';
import { formatEvent, isEvent, type PrintableEvent } from '../local/event-format.js';
import { findAgent } from '../local/paths.js';
import { loadPolicyFile, policyFields } from '../local/policy-file.js';

export function registerRunCommand(program: Command, deps: CliDeps): void {
  program
    .command('run')
    .description('run any Node.js program under the agent, printing events as they happen (no Lambda needed)')
    .option('--policy <file>', 'policy file (YAML or JSON) to enforce')
    .option(
      '--group <name>',
      `policy group from the control plane (or in --policy's list); default ${OBSERVE_ALL_GROUP}`,
    )
    .option('--events <file>', 'also append every event to this file (one JSON line each)')
    .argument('<command...>', 'the program and its arguments, after --')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender run -- node app.js
  $ appdefender run --policy strict.yaml -- node server.js --port 3000
  $ appdefender run --group payments-strict --events events.ndjson -- npm test
  $ appdefender run --json -- node app.js 2> events.ndjson

Events go to stderr (readable, or JSON lines with --json); the program's own output is unchanged.
Exits with the program's exit code.`,
    )
    .action(async (commandLine: string[], _options, command: Command) => {
      const ctx = await commandContext(command, deps);
      const code = await runUnderAgent(ctx, commandLine);
      throw new SilentExit(code);
    });
}

/** The policy to enforce: --policy file, --group from the server, or the built-in observe-all group. */
async function resolvePolicy(ctx: CommandContext): Promise<PolicyGroup> {
  const file = ctx.options['policy'] as string | undefined;
  const group = ctx.options['group'] as string | undefined;
  if (file) {
    const loaded = await loadPolicyFile(file);
    for (const warning of loaded.warnings) ctx.out.warn(`${warning.field}: ${warning.message}`);
    if (group) {
      const picked = loaded.policies.find((policy) => policy.name === group);
      if (!picked) throw new NotFoundError(`${file} has no policy group "${group}"`);
      return picked;
    }
    if (loaded.policies.length > 1) {
      throw new UsageError(`${file} holds ${loaded.policies.length} policy groups; pick one with --group`);
    }
    return loaded.policies[0]!;
  }
  if (!group || group === OBSERVE_ALL_GROUP) return OBSERVE_ALL;
  const api = apiClientFor(ctx, { needsToken: true });
  let body: unknown;
  try {
    body = await api.request('GET', `/api/v1/policy-groups/${encodeURIComponent(group)}`);
  } catch (error) {
    if (error instanceof NotFoundError) {
      throw new NotFoundError(`The policy group "${group}" does not exist on ${api.baseUrl.origin}`);
    }
    throw error;
  }
  const raw = ((body as { policyGroup?: unknown }).policyGroup ?? body) as Record<string, unknown>;
  const result = validatePolicyGroup(policyFields(raw));
  if (!result.ok)
    throw new ValidationError(`The server's policy group "${group}" does not validate`, result.errors);
  return result.policy;
}

/** Splits the child's stdout: agent event lines are taken out and printed readably; the rest passes through. */
function createStdoutFilter(onEvent: (event: PrintableEvent) => void, passThrough: (chunk: string) => void) {
  let pending = '';
  const handleLine = (line: string) => {
    if (line.startsWith('{')) {
      try {
        const value: unknown = JSON.parse(line);
        if (isEvent(value)) {
          onEvent(value);
          return;
        }
      } catch {
        // not JSON: the program's own output
      }
    }
    passThrough(`${line}\n`);
  };
  return {
    write(chunk: string) {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        handleLine(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
      // A partial line that cannot be an event (a prompt) is shown at once.
      if (pending !== '' && !pending.startsWith('{')) {
        passThrough(pending);
        pending = '';
      }
    },
    end() {
      if (pending !== '') passThrough(pending);
      pending = '';
    },
  };
}

async function runUnderAgent(ctx: CommandContext, commandLine: string[]): Promise<number> {
  const [program, ...args] = commandLine;
  if (!program)
    throw new UsageError('Give the program to run after --, e.g. `appdefender run -- node app.js`');
  const agent = findAgent(ctx.deps.env);
  if (!agent.path) {
    throw new NotFoundError(`The agent bundle is missing (looked at ${agent.searched.join(', ')})`, {
      hint: 'Build it with `npm run build` in the AppDefender checkout, or set APPDEFENDER_AGENT to agent.cjs',
    });
  }
  const policy = await resolvePolicy(ctx);
  const workDir = await mkdtemp(join(tmpdir(), 'appdefender-run-'));
  const policyFile = join(workDir, 'policy.json');
  await writeFile(policyFile, JSON.stringify(policy));
  const { out } = ctx;
  out.info(
    out.style.dim(
      `appdefender: running ${commandLine.join(' ')} under "${policy.name}" (network ${policy.network}, filesystem ${policy.filesystem}, process ${policy.process})`,
    ),
  );

  const env: NodeJS.ProcessEnv = {
    ...ctx.deps.env,
    // Quoted so a checkout path with spaces still works; the agent goes before any other preload.
    NODE_OPTIONS: `--require "${agent.path}"${ctx.deps.env['NODE_OPTIONS'] ? ` ${ctx.deps.env['NODE_OPTIONS']}` : ''}`,
    ES_POLICY_FILE: policyFile,
    ES_POLICY_GROUP_NAME: policy.name,
    ES_RUNTIME_DIR: join(workDir, 'runtime'),
  };
  const eventsFile = ctx.options['events'] as string | undefined;
  if (eventsFile) env['ES_EVENT_FILE'] = eventsFile;
  else delete env['ES_EVENT_FILE'];

  const counts = { observe: 0, deny: 0 };
  const stderr = ctx.deps.streams.stderr;
  const filter = createStdoutFilter(
    (event) => {
      if (event.action === 'deny') counts.deny += 1;
      else counts.observe += 1;
      stderr.write(
        out.json
          ? `${JSON.stringify(event)}\n`
          : `${out.style.cyan('appdefender')} ${formatEvent(event, out.style)}\n`,
      );
    },
    (text) => ctx.deps.streams.stdout.write(text),
  );

  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(program, args, { cwd: ctx.deps.cwd, env, stdio: ['inherit', 'pipe', 'inherit'] });
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => filter.write(chunk));
      const forward = () => child.kill('SIGINT');
      void ctx.deps.waitForInterrupt().then(forward);
      child.on('error', (error: NodeJS.ErrnoException) => {
        reject(
          error.code === 'ENOENT'
            ? new NotFoundError(`Cannot run "${program}": no such program`)
            : new CliError('SPAWN_FAILED', ExitCode.failure, `Cannot run "${program}": ${error.message}`),
        );
      });
      child.on('close', (status, signal) => {
        filter.end();
        // A program killed by a signal exits like a shell reports it: 128 + the signal number.
        resolve(status ?? (signal ? 128 + (signalNumbers[signal] ?? 1) : 1));
      });
    });
    if (!out.json) {
      stderr.write(
        out.style.dim(`appdefender: ${counts.deny} denied, ${counts.observe} observed; exit code ${code}\n`),
      );
    }
    return code;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGTERM: 15,
};
