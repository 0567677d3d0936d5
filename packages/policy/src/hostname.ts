/** Canonical host: lowercase, ASCII, no trailing dot, IPv4 aliases canonicalised; null if not a host. */
export function normalizeHostname(_host: string): string | null {
  throw new Error('not implemented yet');
}
