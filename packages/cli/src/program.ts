import { Command, CommanderError } from 'commander';
import { registerDemoCommand } from './commands/demo.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerEventsCommand } from './commands/events.js';
import { registerLambdaCommand } from './commands/lambda.js';
import { registerLayerCommand } from './commands/layer.js';
import { registerPolicyCommand } from './commands/policy.js';
import { registerRunCommand } from './commands/run.js';
import { registerServerCommand } from './commands/server.js';
import type { CliDeps } from './context.js';
import { CliError, ExitCode, SilentExit } from './errors.js';
import { createOutput } from './output.js';
import { CLI_VERSION } from './version.js';

const exitCodeHelp = `
Examples:
  $ appdefender demo                                   # see it work in a minute
  $ appdefender run -- node app.js                     # what does my code do?
  $ appdefender lambda enable --function checkout --group payments-strict
  $ appdefender doctor --function checkout

Exit codes:
  0  success
  1  the command failed (invalid policy, failed update, problems found by doctor)
  2  usage error or missing configuration
  3  not found (function, policy group, layer, file)
  4  credentials missing or rejected (AWS, api token)
  5  the control plane or another endpoint is unreachable
  run exits with the code of the program it ran.

Configuration: flags, then environment (ES_API_URL, ES_API_TOKEN, ES_LICENSE_KEY, AWS_REGION,
AWS_PROFILE, ...), then the config file ~/.config/appdefender/config.json (or APPDEFENDER_CONFIG).
NO_COLOR turns colours off; output is plain when not a terminal or when CI is set.`;

/** Builds the whole command tree; nothing runs until `parseAsync`. */
export function createProgram(deps: CliDeps): Command {
  const program = new Command('appdefender')
    .description('AppDefender: runtime protection for serverless functions')
    .version(CLI_VERSION, '-V, --version')
    .option('--json', 'machine-readable JSON output')
    .option('--no-color', 'no colours (also: NO_COLOR=1)')
    .option('--api-url <url>', 'control plane URL (env ES_API_URL)')
    .option('--api-token <token>', 'control plane api token (env ES_API_TOKEN)')
    .addHelpText('after', exitCodeHelp)
    .showHelpAfterError('(add --help for usage and examples)');

  registerServerCommand(program, deps);
  registerRunCommand(program, deps);
  registerPolicyCommand(program, deps);
  registerLambdaCommand(program, deps);
  registerLayerCommand(program, deps);
  registerEventsCommand(program, deps);
  registerDoctorCommand(program, deps);
  registerDemoCommand(program, deps);

  const configure = (command: Command) => {
    command.exitOverride();
    command.configureOutput({
      writeOut: (text) => deps.streams.stdout.write(text),
      writeErr: (text) => deps.streams.stderr.write(text),
    });
    for (const sub of command.commands) configure(sub);
  };
  configure(program);
  return program;
}

/** Runs the CLI with the given arguments (without `node` and the script) and returns the exit code. */
export async function runCli(args: string[], deps: CliDeps): Promise<number> {
  const program = createProgram(deps);
  try {
    await program.parseAsync(args, { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    return reportError(error, args, deps);
  }
}

function reportError(error: unknown, args: string[], deps: CliDeps): number {
  if (error instanceof SilentExit) return error.exitCode;
  if (error instanceof CommanderError) {
    // Commander has printed its message already; help and version are successes.
    // Commander has printed its message already. --help and --version succeed; help shown because
    // no command was given ('commander.help') is a usage error like any other.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return ExitCode.ok;
    return ExitCode.usage;
  }
  const json = args.includes('--json');
  const out = createOutput(deps.streams, deps.env, { json });
  const cliError =
    error instanceof CliError
      ? error
      : new CliError(
          'INTERNAL',
          ExitCode.failure,
          `unexpected error: ${(error as Error)?.stack ?? String(error)}`,
        );
  if (json) {
    deps.streams.stderr.write(
      `${JSON.stringify({
        error: {
          code: cliError.code,
          message: cliError.message,
          ...(cliError.details.length > 0 ? { details: cliError.details } : {}),
          ...(cliError.hint ? { hint: cliError.hint } : {}),
        },
      })}\n`,
    );
  } else {
    const { style } = out;
    const lines = [`${style.red('error:')} ${cliError.message}`];
    for (const detail of cliError.details) lines.push(`  ${style.bold(detail.field)}: ${detail.message}`);
    if (cliError.hint) lines.push(`${style.cyan('hint:')} ${cliError.hint}`);
    deps.streams.stderr.write(`${lines.join('\n')}\n`);
  }
  return cliError.exitCode;
}
