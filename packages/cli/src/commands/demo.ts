import type { Command } from 'commander';
import type { CliDeps } from '../context.js';
import { CliError, ExitCode } from '../errors.js';

export function registerDemoCommand(program: Command, _deps: CliDeps): void {
  program
    .command('demo')
    .description('start a control plane and local Lambda functions that show observe and deny events live')
    .action(() => {
      throw new CliError('NOT_IMPLEMENTED', ExitCode.failure, 'demo is not implemented yet');
    });
}
