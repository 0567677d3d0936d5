import type { IpNameTableLike } from './types.js';

/** Maps IP addresses back to the names they were resolved from, with TTL. */
export class IpNameTable implements IpNameTableLike {
  constructor(_opts?: { now?: () => number; maxEntries?: number }) {}
  learn(_ip: string, _names: string[], _ttlMs: number): void {
    throw new Error('not implemented yet');
  }
  namesFor(_ip: string): string[] {
    throw new Error('not implemented yet');
  }
  generationOf(_ip: string): number {
    throw new Error('not implemented yet');
  }
  entriesFor(_ip: string): ReadonlyArray<{ name: string; expiresAt: number }> {
    throw new Error('not implemented yet');
  }
  now(): number {
    throw new Error('not implemented yet');
  }
}
