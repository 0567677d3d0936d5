/**
 * Teaches the IpNameTable which names an address was resolved from, so that a connection to an
 * address is judged by its names (contract §1: "a connection to an IP address matches when that
 * address was resolved from an allowed name, and the agent also resolves allowed names itself").
 *
 * We learn only from the system resolver (getaddrinfo: dns.lookup, and so every net/http/fetch
 * connect by name), never from c-ares queries, whose servers the app can point anywhere
 * (`Resolver#setServers`): an attacker's DNS server must not be able to make its address "belong"
 * to an allowed name.
 */
import type * as dns from 'node:dns';
import { IpNameTable, normalizeHostname } from '@appdefender/policy';
import { asAgentWork } from '../agent-work.js';
import { agentFileName, callerFiles } from '../attribution.js';
import type { AgentContext } from '../context.js';
import { dateNow, isArray, mapClear, mapGet, mapSet, mapSize } from '../intrinsics.js';
import { logOnce } from '../log.js';

/** How long a learned mapping counts: long enough for connection reuse, short enough to follow DNS. */
export const LEARNED_TTL_MS = 5 * 60_000;
const REFRESH_MS = 4 * 60_000;
// the first resolution now starts after the app ran (see resolveAllowedNames), which may have
// replaced the global
const setIntervalAtLoad = setInterval;

// (name, address) pairs learned recently: learning them again would only bump the address's
// generation in the table and make the decider revalidate its cached verdict on every connect
const recentlyLearned = new Map<string, Map<string, number>>();
const RELEARN_AFTER_MS = LEARNED_TTL_MS / 2;
const MAX_RECENT_NAMES = 1024;

/**
 * What the system resolver answered for names that are only OBSERVED (not granted by name). It
 * grants nothing; it lets a connection observed by name show whether it went where that name
 * resolves (`dialsAnswerOf`), so that a custom `lookup` or a raw handle borrowing the socket cannot
 * send an observed connection to another address unreported.
 */
const observedAnswers = new IpNameTable();
const recentlyObserved = new Map<string, Map<string, number>>();

/**
 * True when `address` is `host` itself (an IP literal in any spelling) or an address the system
 * resolver gave for `host` as an observed name (see observedAnswers).
 */
export function dialsAnswerOf(host: string | undefined, address: unknown): boolean {
  if (host === undefined || typeof address !== 'string') return false;
  const wanted = normalizeHostname(host);
  if (wanted === null) return false;
  const dialled = normalizeHostname(address) ?? address;
  if (wanted === dialled) return true;
  const entries = observedAnswers.entriesFor(dialled);
  for (let i = 0; i < entries.length; i++) {
    if (normalizeHostname(entries[i]!.name) === wanted) return true;
  }
  return false;
}

/**
 * Learns a system-resolver answer for `name`: into the IpNameTable when the name is granted, into
 * observedAnswers when it is only observed (`observed`).
 */
export function learnAddresses(
  context: AgentContext,
  name: string,
  addresses: unknown,
  observed = false,
): void {
  const table = observed ? observedAnswers : context.ipNames;
  const cache = observed ? recentlyObserved : recentlyLearned;
  // indexed loops and captured Map methods: this runs after the app may have tampered with the
  // array iterator or Map.prototype, and what it learns grants addresses (see intrinsics.ts). The
  // answer is copied once, so what is checked below is what is learned.
  const list: string[] = [];
  if (typeof addresses === 'string') list[0] = addresses;
  else if (isArray(addresses)) {
    for (let i = 0; i < addresses.length; i++) {
      const entry: unknown = addresses[i];
      if (typeof entry === 'string') list[list.length] = entry;
      else if (entry && typeof (entry as { address?: unknown }).address === 'string') {
        list[list.length] = (entry as { address: string }).address;
      }
    }
  }
  const now = dateNow();
  const learned = mapGet(cache, name);
  // Nothing new (every connect by name looks its name up again): learning nothing needs no proof
  // of who called, and the stack capture that proves it was most of the agent's cost per connect.
  if (learned && !hasNewAddress(learned, list, now)) return;
  if (!calledByTheResolver()) return;
  let recent = learned;
  if (!recent) {
    if (mapSize(cache) >= MAX_RECENT_NAMES) mapClear(cache);
    recent = new Map();
    mapSet(cache, name, recent);
  }
  for (let i = 0; i < list.length; i++) {
    const address = list[i]!;
    const learnedAt = mapGet(recent, address);
    if (learnedAt !== undefined && now - learnedAt < RELEARN_AFTER_MS) continue;
    mapSet(recent, address, now);
    table.learn(address, [name], LEARNED_TTL_MS);
  }
}

function hasNewAddress(learned: Map<string, number>, list: string[], now: number): boolean {
  for (let i = 0; i < list.length; i++) {
    const learnedAt = mapGet(learned, list[i]!);
    if (learnedAt === undefined || now - learnedAt >= RELEARN_AFTER_MS) return true;
  }
  return false;
}

/**
 * Is the current learnAddresses call the completion of a real lookup? The completion callbacks sit
 * on request objects the app can reach (a raw `process.binding('cares_wrap')` request, or any
 * lookup's request through `async_hooks`), and calling one with made-up addresses (`0, ['evil-ip']`)
 * would make an allowed name vouch for any address. A real completion comes straight from the event
 * loop: below the agent's own frames there is nothing. Any other caller (app code, nextTick, a
 * timer) learns nothing (test/redteam-net.test.ts); a bound function run as a promise reaction has
 * nothing below it either, which the completion's own check of its async context refuses
 * (hooks/dns.ts, learnOnComplete; test/redteam-round5.test.ts).
 */
function calledByTheResolver(): boolean {
  const files = callerFiles(learnAddresses, 8);
  if (files === null) return false;
  const agent = agentFileName();
  let i = 0;
  while (i < files.length && files[i] === agent) i++;
  return i === files.length;
}

/**
 * Entries of allowedDomains that are themselves resolvable names (not `*.x`, `x.*`, or a bare
 * word like `stripe` that only matches as a substring; `localhost` is the one single-label name).
 */
export function resolvableAllowedNames(allowedDomains: readonly string[]): string[] {
  const names = new Set<string>();
  for (const entry of allowedDomains) {
    // `.stripe.com` means the name and its subdomains: the name itself is resolvable
    const name = entry.startsWith('.') ? entry.slice(1) : entry;
    if (name.includes('*') || name.includes('/') || name.includes(':') || /^[\d.]+$/.test(name)) continue;
    if (name.includes('.') || name === 'localhost') names.add(name);
  }
  return [...names];
}

/**
 * Resolves the allowed names now and every few minutes (unref'd timer: never keeps the process
 * alive). Runs as the agent's own work: the DNS hooks learn the answers (from the getaddrinfo
 * request's completion) but neither judge nor report them.
 */
export function resolveAllowedNames(
  context: AgentContext,
  lookupOf: () => typeof dns.lookup | undefined,
): void {
  // read when the resolution starts, not now: the hooks may be installed before the policy is known
  let names: string[] = [];
  let lookup: typeof dns.lookup;
  let refreshing = false;
  const resolveAll = (): void => {
    let outstanding = names.length;
    const settleOne = (): void => {
      if (--outstanding > 0) return;
      settle();
      if (!refreshing) {
        refreshing = true;
        setIntervalAtLoad(resolveAll, REFRESH_MS).unref();
      }
    };
    for (let index = 0; index < names.length; index++) {
      const name = names[index] as string;
      try {
        asAgentWork(() =>
          // the answers are learned where every system lookup's are, on the request's completion
          // (hooks/dns.ts, learnOnComplete), not here: this callback is reachable by the app
          // (`req.callback`), and its caller could not be told from a forged one
          lookup(name, { all: true }, () => settleOne()),
        );
      } catch (error) {
        logOnce(`resolve:${name}`, `cannot resolve allowed name ${name}: ${String(error)}`);
        settleOne();
      }
    }
  };
  // Not at start, nor at the first turn of the event loop: a process's first lookup costs ~5 ms of
  // CPU (glibc's resolver set-up, libuv's thread pool), and with an ES module entry (the Lambda
  // runtime's) the loop turns before the application's first line, so it landed in every cold
  // start. It starts with the first network operation that asks whether the answers are in
  // (allowedNamesPending); an operation that would be denied without them waits for them
  // (whenAllowedNamesSettled). Not knowing the answers yet can only deny more, never allow more.
  startFirstResolution = (): void => {
    startFirstResolution = undefined;
    names = resolvableAllowedNames(context.policy.allowedDomains);
    if (names.length === 0) return;
    const found = asAgentWork(lookupOf);
    if (!found) {
      logOnce(
        'resolve',
        'node:dns was loaded without the agent seeing it; allowed names are not resolved ahead',
      );
      return;
    }
    lookup = found;
    pendingUntil = dateNow() + MAX_FIRST_RESOLUTION_WAIT_MS;
    resolveAll();
  };
}

/** Starts the first resolution of the allowed names (see resolveAllowedNames) once. */
let startFirstResolution: (() => void) | undefined;

// The first resolution races the app's first connection: a connection to an address that would be
// denied while the agent's own lookups are still out waits for them (bounded) and is judged again.
const MAX_FIRST_RESOLUTION_WAIT_MS = 2000;
let pendingUntil = 0;
let waiters: Array<() => void> = [];
let deadlineTimer: NodeJS.Timeout | undefined;

function settle(): void {
  pendingUntil = 0;
  if (deadlineTimer) clearTimeout(deadlineTimer);
  deadlineTimer = undefined;
  const ready = waiters;
  waiters = [];
  for (const waiter of ready) waiter();
}

/**
 * True while the agent's first resolution of the allowed names is still out (and not overdue);
 * starts it when it has not started yet.
 */
export function allowedNamesPending(): boolean {
  if (startFirstResolution) startFirstResolution();
  return pendingUntil !== 0 && dateNow() < pendingUntil;
}

/** Calls `then` once the first resolution of the allowed names has settled (at once if it has). */
export function whenAllowedNamesSettled(then: () => void): void {
  if (!allowedNamesPending()) {
    then();
    return;
  }
  waiters[waiters.length] = then;
  // a lookup that never answers must not hold connections forever
  deadlineTimer ??= setTimeout(settle, Math.max(0, pendingUntil - Date.now()));
}
