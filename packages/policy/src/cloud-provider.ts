/**
 * Cloud-provider traffic for `allowCloudProviderTraffic`.
 *
 * Why names and not the providers' published IP ranges: those ranges (AWS ip-ranges.json, Google's
 * cloud.json, Azure service tags) contain every customer's addresses too. Anyone can rent an EC2 instance,
 * a GCE VM or an Azure VM and receive an address inside them, so "allow the provider's IP ranges" would
 * allow any attacker-run server. We therefore allow the provider's *service endpoint names*, matched with
 * ends-with semantics on the normalised host name (`.amazonaws.com` matches `sqs.us-east-1.amazonaws.com`
 * and not `amazonaws.com.evil.tld`), and a connection to a bare IP only through the names it was resolved
 * from (ip-name-table.ts).
 *
 * Under those service domains a few sub-domains are handed to customers (EC2 public DNS, load balancers,
 * API Gateway, Azure VMs); those are listed in CLOUD_PROVIDER_CUSTOMER_HOSTS and never granted by this
 * rule. Storage endpoints (`<bucket>.s3.<region>.amazonaws.com`, `storage.googleapis.com`,
 * `<account>.blob.core.windows.net`) remain allowed: the provider's SDKs need them, and buckets are named by
 * their owners, so an attacker's bucket is reachable too. Policies that must stop that keep
 * allowCloudProviderTraffic off and list their own buckets in allowedDomains.
 */

import { stringEndsWith, stringIncludes, stringSlice } from './primordials.js';
import type { CloudProvider } from './types.js';

/**
 * Service endpoint patterns per provider, in allowedDomains syntax: a leading dot matches the domain and
 * every name under it.
 */
export const CLOUD_PROVIDER_ENDPOINTS: Readonly<Record<CloudProvider, readonly string[]>> = Object.freeze({
  aws: Object.freeze([
    '.amazonaws.com', // regional service endpoints: sqs.us-east-1.amazonaws.com, dynamodb.…, s3.…, sts.…
    '.amazonaws.com.cn', // the China partition
    '.api.aws', // dual-stack and newer service endpoints: s3.dualstack…, lambda.us-east-1.api.aws
  ]),
  gcp: Object.freeze([
    '.googleapis.com', // every Google Cloud API: storage, pubsub, firestore, oauth2, logging…
    '.google.internal', // metadata.google.internal, the metadata server credentials come from
  ]),
  azure: Object.freeze([
    '.azure.com', // management.azure.com, <service>.azure.com data planes
    '.azure.net', // vault.azure.net, servicebus/eventhub data planes
    '.windows.net', // core.windows.net storage, database.windows.net, login.windows.net
    '.microsoftonline.com', // login.microsoftonline.com: Entra ID tokens for managed identities
    '.azure-devices.net', // IoT Hub
  ]),
});

/**
 * Names under the service domains that belong to customers, not the provider: anyone can create one, so
 * they are excluded from the cloud-provider grant. Matched as "contains" on the normalised name.
 */
export const CLOUD_PROVIDER_CUSTOMER_HOSTS: Readonly<Record<CloudProvider, readonly string[]>> =
  Object.freeze({
    aws: Object.freeze([
      '.compute.amazonaws.com', // EC2 public DNS: ec2-1-2-3-4.us-west-2.compute.amazonaws.com
      '.compute-1.amazonaws.com', // EC2 public DNS in us-east-1
      '.compute.amazonaws.com.cn',
      '.elb.amazonaws.com', // customer load balancers
      '.elb.amazonaws.com.cn',
      '.execute-api.', // customer API Gateway APIs: <id>.execute-api.<region>.amazonaws.com
      '.s3-website', // customer static websites: <bucket>.s3-website-<region>.amazonaws.com
      '.lambda-url.', // customer Lambda function URLs
    ]),
    gcp: Object.freeze([]),
    azure: Object.freeze([
      '.cloudapp.azure.com', // customer VMs and public IPs
      '.web.core.windows.net', // customer static websites
    ]),
  });

/**
 * The cloud provider the process runs on, from its environment, or null when none is recognised.
 * AWS Lambda: AWS_LAMBDA_FUNCTION_NAME / AWS_LAMBDA_RUNTIME_API / AWS_EXECUTION_ENV=AWS_Lambda_*;
 * Google Cloud Functions / Cloud Run: K_SERVICE / FUNCTION_TARGET; Azure Functions / App Service:
 * FUNCTIONS_WORKER_RUNTIME / WEBSITE_SITE_NAME.
 * @example detectCloudProvider(process.env) // 'aws' inside Lambda
 */
export function detectCloudProvider(env: Record<string, string | undefined>): CloudProvider | null {
  if (has(env, 'AWS_LAMBDA_FUNCTION_NAME') || has(env, 'AWS_LAMBDA_RUNTIME_API')) return 'aws';
  if (env['AWS_EXECUTION_ENV']?.startsWith('AWS_')) return 'aws';
  if (has(env, 'K_SERVICE') || has(env, 'FUNCTION_TARGET')) return 'gcp';
  if (has(env, 'FUNCTIONS_WORKER_RUNTIME') || has(env, 'WEBSITE_SITE_NAME')) return 'azure';
  return null;
}

function has(env: Record<string, string | undefined>, key: string): boolean {
  const value = env[key];
  return typeof value === 'string' && value.length > 0;
}

/**
 * Is `host` (normalised) one of `provider`'s service endpoints? Returns the matching pattern, or null.
 */
export function matchCloudEndpoint(provider: CloudProvider, host: string): string | null {
  // captured methods and index loops (primordials.ts): this grants traffic inside the function
  const excludedHosts = CLOUD_PROVIDER_CUSTOMER_HOSTS[provider];
  for (let index = 0; index < excludedHosts.length; index++) {
    if (stringIncludes(host, excludedHosts[index] as string)) return null;
  }
  const patterns = CLOUD_PROVIDER_ENDPOINTS[provider];
  for (let index = 0; index < patterns.length; index++) {
    const pattern = patterns[index] as string;
    if (stringEndsWith(host, pattern) || host === stringSlice(pattern, 1)) return pattern;
  }
  return null;
}
