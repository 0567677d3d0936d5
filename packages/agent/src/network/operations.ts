/**
 * Network operations as the decider sees them, with EVERY field an own property (undefined when
 * unknown). The decider reads `op.host`, `op.ip`, `op.path`...: on an object literal that simply
 * lacks `host`, that read would find an `Object.prototype.host` planted by the app. Positional
 * parameters (not an options object) for the same reason: a missing option would be inherited too.
 */
import type { Operation } from '@appdefender/policy';

type Transport = 'tcp' | 'udp' | 'pipe';

export function networkOp(
  operation: 'connect' | 'send',
  protocol: Transport,
  host: string | undefined,
  ip: string | undefined,
  port: number | undefined,
  path?: string,
): Operation {
  return { category: 'network', operation, protocol, host, ip, port, path };
}

export function dnsOp(host: string, rrtype: string | undefined): Operation {
  return { category: 'network', operation: 'dns', host, rrtype };
}
