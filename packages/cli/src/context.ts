import type { Command } from 'commander';
import type { LambdaClientFactory } from './aws/lambda-client.js';
import { type CliConfig, type ConfigFlags, resolveConfig } from './config.js';
import { createOutput, type Output, type OutputStreams } from './output.js';

/** Everything a command touches outside itself, injected so tests can replace it. */
export interface CliDeps {
  env: NodeJS.ProcessEnv;
  streams: OutputStreams;
  cwd: string;
  createLambdaClient: LambdaClientFactory;
  fetch: typeof fetch;
  sleep: (ms: number) => Promise<void>;
  /** Resolves on the next Ctrl-C / SIGTERM; only long-running commands listen, so others die as usual. */
  waitForInterrupt: () => Promise<void>;
}

export interface CommandContext {
  deps: CliDeps;
  out: Output;
  config: CliConfig;
  /** All options of the command and its parents (global flags included). */
  options: Record<string, unknown>;
}

/** Builds a command's context from its (and the global) flags. */
export async function commandContext(command: Command, deps: CliDeps): Promise<CommandContext> {
  const options = command.optsWithGlobals() as Record<string, unknown>;
  const json = options['json'] === true;
  const env = options['color'] === false ? { ...deps.env, NO_COLOR: '1' } : deps.env;
  const out = createOutput(deps.streams, env, { json });
  const str = (key: string) => (typeof options[key] === 'string' ? (options[key] as string) : undefined);
  const flags: ConfigFlags = {
    apiUrl: str('apiUrl'),
    apiToken: str('apiToken'),
    licenseKey: str('licenseKey'),
    group: str('group'),
    region: str('region'),
    profile: str('profile'),
  };
  const config = await resolveConfig(flags, deps.env);
  return { deps, out, config, options };
}
