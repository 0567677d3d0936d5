/** Does an allowedDomains entry match a host name (contract §1)? */
export function matchDomain(_entry: string, _host: string): boolean {
  throw new Error('not implemented yet');
}
