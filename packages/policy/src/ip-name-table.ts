/**
 * IP → name table. Hooks see many connections only as an address (`net.connect({host: '52.1.2.3'})`, a
 * pooled socket, a UDP send). The agent records here which names each address was resolved from (the
 * application's own lookups and the agent's resolution of allowed names), so the decision for an
 * address is the decision for the names it stands for, for as long as the DNS answer is valid.
 */
import { isIpAddress, normalizeHostname } from './hostname.js';
import type { IpNameTableLike } from './types.js';

export const DEFAULT_IP_TABLE_MAX_ENTRIES = 4096;

interface AddressEntry {
  /** name → expiry time (ms on the table clock). */
  names: Map<string, number>;
  generation: number;
}

export interface IpNameTableOptions {
  /** Clock in ms (tests inject one); defaults to Date.now. */
  now?: () => number;
  /** Most addresses kept (default 4096); beyond it, expired then least recently learned ones are dropped. */
  maxEntries?: number;
}

/**
 * @example
 * const table = new IpNameTable();
 * table.learn('52.1.2.3', ['api.stripe.com'], 60_000);
 * table.namesFor('52.1.2.3'); // ['api.stripe.com'] for the next minute
 */
export class IpNameTable implements IpNameTableLike {
  readonly #clock: () => number;
  readonly #maxEntries: number;
  readonly #addresses = new Map<string, AddressEntry>();
  #nextGeneration = 1;

  constructor(opts: IpNameTableOptions = {}) {
    const maxEntries = opts.maxEntries ?? DEFAULT_IP_TABLE_MAX_ENTRIES;
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(
        `IpNameTable maxEntries must be a positive integer, got ${String(opts.maxEntries)}`,
      );
    }
    this.#clock = opts.now ?? Date.now;
    this.#maxEntries = maxEntries;
  }

  /**
   * Records that `ip` was resolved from `names`, valid for `ttlMs` (the DNS TTL). Names that are not
   * valid host names are skipped; an address that is not an IP address is an error.
   */
  learn(ip: string, names: readonly string[], ttlMs: number): void {
    const address = normalizeHostname(ip);
    if (address === null || !isIpAddress(address)) {
      throw new TypeError(`IpNameTable.learn: '${String(ip)}' is not an IP address`);
    }
    if (typeof ttlMs !== 'number' || !(ttlMs >= 0)) {
      throw new RangeError(`IpNameTable.learn: ttlMs must be a non-negative number, got ${String(ttlMs)}`);
    }
    const expiresAt = this.#clock() + ttlMs;
    const entry = this.#addresses.get(address) ?? { names: new Map<string, number>(), generation: 0 };
    for (const raw of names) {
      const name = normalizeHostname(raw);
      if (name === null || isIpAddress(name)) continue;
      // A fresh answer replaces the old expiry, shorter or longer: the latest TTL is the truth.
      entry.names.set(name, expiresAt);
    }
    entry.generation = this.#nextGeneration++;
    // Re-insert so Map order is "least recently learned first" for eviction.
    this.#addresses.delete(address);
    this.#addresses.set(address, entry);
    if (this.#addresses.size > this.#maxEntries) this.#shrink();
  }

  /**
   * Over capacity: drop expired addresses, then the least recently learned, down to 3/4 of the limit.
   * Done in one pass rather than one eviction per learn, because repeatedly deleting a Map's oldest
   * entry makes its iterator skip ever more holes (O(n) per eviction in V8).
   */
  #shrink(): void {
    const now = this.#clock();
    const target = Math.floor(this.#maxEntries * 0.75);
    for (const [address, entry] of this.#addresses) {
      let live = false;
      for (const expiresAt of entry.names.values()) if (expiresAt > now) live = true;
      if (!live) this.#addresses.delete(address);
    }
    let excess = this.#addresses.size - target;
    for (const address of this.#addresses.keys()) {
      if (excess-- <= 0) break;
      this.#addresses.delete(address);
    }
  }

  /** The names `ip` was resolved from whose TTL has not yet expired (any IP spelling). */
  namesFor(ip: string): string[] {
    return this.entriesFor(normalizeHostname(ip) ?? ip).map((entry) => entry.name);
  }

  /** Live names of `ip` (normalised form) with their expiry times. */
  entriesFor(ip: string): Array<{ name: string; expiresAt: number }> {
    const entry = this.#addresses.get(ip);
    if (entry === undefined) return [];
    const now = this.#clock();
    const live: Array<{ name: string; expiresAt: number }> = [];
    // forEach and index appends, not `for...of`/destructuring/push: inside the function the app may
    // have replaced the iterators or Array.prototype.push to slip a name in (primordials.ts)
    entry.names.forEach((expiresAt, name) => {
      if (expiresAt > now) live[live.length] = { name, expiresAt };
      else entry.names.delete(name);
    });
    if (entry.names.size === 0) this.#addresses.delete(ip);
    return live;
  }

  /**
   * Changes whenever `ip` (normalised form) is learned again or dropped; 0 when unknown. Lets a decider
   * cache a decision about an address and know when it went stale.
   */
  generationOf(ip: string): number {
    return this.#addresses.get(ip)?.generation ?? 0;
  }

  /** The table's clock, in ms. */
  now(): number {
    return this.#clock();
  }

  /** Number of addresses held (expired ones included until touched). */
  get size(): number {
    return this.#addresses.size;
  }
}
