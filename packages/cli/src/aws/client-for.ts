import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { CommandContext } from '../context.js';
import { regionOfFunctionArn } from './arn.js';
import { toCliError } from './lambda-client.js';

/** A Lambda client for the function's region (from its ARN, else --region/env/config/profile). */
export async function lambdaClientFor(
  ctx: CommandContext,
  functionNameOrArn?: string,
): Promise<{ client: LambdaClient; region: string }> {
  const region = (functionNameOrArn && regionOfFunctionArn(functionNameOrArn)) || ctx.config.region?.value;
  const client = ctx.deps.createLambdaClient({ region, profile: ctx.config.profile?.value });
  try {
    // Resolves the region the SDK settled on (e.g. from the profile), failing early when there is none.
    return { client, region: await client.config.region() };
  } catch (error) {
    throw toCliError(error, 'AWS');
  }
}
