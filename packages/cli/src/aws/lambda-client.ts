import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  AuthError,
  CliError,
  ExitCode,
  errorMessage,
  errorName,
  NotFoundError,
  UnreachableError,
  UsageError,
} from '../errors.js';

const networkErrorCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
]);

export interface LambdaClientOptions {
  region?: string | undefined;
  profile?: string | undefined;
}

/** Commands get clients from this factory, so tests can hand in mocked clients. */
export type LambdaClientFactory = (options: LambdaClientOptions) => LambdaClient;

/** The real factory: the SDK's own credential chain (env, profiles, SSO, roles) and region resolution. */
export const createLambdaClient: LambdaClientFactory = (options) =>
  new LambdaClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  });

const credentialErrors = new Set([
  'CredentialsProviderError',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'ExpiredToken',
  'AccessDeniedException',
  'UnauthorizedException',
  'InvalidClientTokenId',
]);

/** Turns an AWS SDK error into a CliError with the right exit code and a message that says what to do. */
export function toCliError(error: unknown, what: string): CliError {
  if (error instanceof CliError) return error;
  const name = errorName(error);
  const message = errorMessage(error);
  if (name === 'ResourceNotFoundException') {
    return new NotFoundError(`${what}: not found (${message})`, { cause: error });
  }
  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    return new AuthError(`${what}: no AWS credentials found`, {
      cause: error,
      hint: 'Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws configure` / `aws sso login`',
    });
  }
  if (name !== undefined && credentialErrors.has(name)) {
    return new AuthError(`${what}: AWS refused the credentials or permissions (${name}: ${message})`, {
      cause: error,
    });
  }
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && networkErrorCodes.has(code)) {
    return new UnreachableError(`${what}: cannot reach AWS (${code})`, {
      cause: error,
      hint: 'Check the network, proxy settings and AWS_ENDPOINT_URL(_LAMBDA) if set',
    });
  }
  if (/region is missing/i.test(message)) {
    return new UsageError(`${what}: no AWS region`, {
      cause: error,
      hint: 'Pass --region, set AWS_REGION, or set "region" in the config file',
    });
  }
  return new CliError('AWS_ERROR', ExitCode.failure, `${what}: ${name ? `${name}: ` : ''}${message}`, {
    cause: error,
  });
}
