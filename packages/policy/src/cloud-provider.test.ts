import { describe, expect, it } from 'vitest';
import { CLOUD_PROVIDER_ENDPOINTS, detectCloudProvider, matchCloudEndpoint } from './cloud-provider.js';
import { parseDomainEntry } from './domain-match.js';
import type { CloudProvider } from './types.js';

describe('detectCloudProvider', () => {
  it.each([
    [{ AWS_LAMBDA_FUNCTION_NAME: 'checkout' }, 'aws'],
    [{ AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' }, 'aws'],
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x' }, 'aws'],
    [{ K_SERVICE: 'checkout' }, 'gcp'],
    [{ FUNCTION_TARGET: 'handler' }, 'gcp'],
    [{ FUNCTIONS_WORKER_RUNTIME: 'node' }, 'azure'],
    [{ WEBSITE_SITE_NAME: 'checkout' }, 'azure'],
    [{ AWS_LAMBDA_FUNCTION_NAME: 'x', K_SERVICE: 'y' }, 'aws'],
    [{}, null],
    [{ AWS_LAMBDA_FUNCTION_NAME: '' }, null],
    [{ HOME: '/root', PATH: '/usr/bin' }, null],
  ])('%j -> %s', (env, expected) => {
    expect(detectCloudProvider(env)).toBe(expected);
  });
});

describe('CLOUD_PROVIDER_ENDPOINTS', () => {
  it.each(
    Object.entries(CLOUD_PROVIDER_ENDPOINTS).flatMap(([provider, patterns]) =>
      patterns.map((pattern) => [provider, pattern]),
    ),
  )('%s pattern %s is a valid leading-dot (ends-with) allowedDomains entry', (_provider, pattern) => {
    expect(parseDomainEntry(pattern)).toMatchObject({ ok: true, parsed: { kind: 'domain', entry: pattern } });
  });
});

describe('matchCloudEndpoint', () => {
  it.each<[CloudProvider, string, boolean]>([
    ['aws', 'sqs.us-east-1.amazonaws.com', true],
    ['aws', 'dynamodb.eu-west-1.amazonaws.com', true],
    ['aws', 'my-bucket.s3.us-east-1.amazonaws.com', true],
    ['aws', 'lambda.us-east-1.api.aws', true],
    ['aws', 's3.cn-north-1.amazonaws.com.cn', true],
    ['aws', 'amazonaws.com', true],
    // ends-with only: the suffix must be a whole label boundary
    ['aws', 'amazonaws.com.evil.tld', false],
    ['aws', 'evilamazonaws.com', false],
    ['aws', 'api.aws.evil.tld', false],
    // customer-owned names under the service domain
    ['aws', 'ec2-3-4-5-6.compute-1.amazonaws.com', false],
    ['aws', 'ec2-3-4-5-6.us-west-2.compute.amazonaws.com', false],
    ['aws', 'my-lb-123.us-east-1.elb.amazonaws.com', false],
    ['aws', 'abc123.execute-api.us-east-1.amazonaws.com', false],
    ['aws', 'bucket.s3-website-us-east-1.amazonaws.com', false],
    ['aws', 'abc.lambda-url.us-east-1.on.aws', false],
    // one provider's rule does not grant another provider's endpoints
    ['aws', 'storage.googleapis.com', false],
    ['gcp', 'storage.googleapis.com', true],
    ['gcp', 'metadata.google.internal', true],
    ['gcp', 'sqs.us-east-1.amazonaws.com', false],
    ['gcp', 'googleapis.com.evil.tld', false],
    ['gcp', 'my-app.appspot.com', false],
    ['azure', 'management.azure.com', true],
    ['azure', 'myvault.vault.azure.net', true],
    ['azure', 'login.microsoftonline.com', true],
    ['azure', 'account.blob.core.windows.net', true],
    ['azure', 'myvm.westeurope.cloudapp.azure.com', false],
    ['azure', 'site.web.core.windows.net', false],
    ['azure', 'myapp.azurewebsites.net', false],
  ])('%s: %s -> %s', (provider, host, granted) => {
    expect(matchCloudEndpoint(provider, host) !== null).toBe(granted);
  });
});
