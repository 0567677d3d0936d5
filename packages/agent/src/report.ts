/**
 * Builds events for observe/deny decisions and hands them to the sink, aggregating repeats.
 *
 * Aggregation: the first occurrence of a (category, action, operation, target) is written at once,
 * with `count: 1`. Repeats within the window (ES_AGGREGATE_WINDOW_MS, default 1000 ms) are only
 * counted; when the window closes, one more event with `count: <repeats>` is written and the window
 * stays open for another period (a loop produces one line per window, not one per call). Pending
 * counts are written at exit and before terminateOnDeny ends the process. So the sum of `count`
 * over events is always the number of occurrences. Windows belong to one invocation (request id).
 *
 * A loop over ever-new targets (a port scan, one DNS name per secret chunk) would dodge that, so at
 * most MAX_NEW_EVENTS_PER_WINDOW first occurrences are written per window; beyond that, occurrences
 * are counted per (category, action, operation) and written when the window closes as one event
 * with target `(multiple targets)`, `count`, and a few `details.sampleTargets`.
 */
import {
  type AgentEvent,
  createEvent,
  describeTarget,
  type NonGrantDecision,
  type Operation,
  uuidv7,
} from '@appdefender/policy';
import { type Attribution, attributeCall } from './attribution.js';
import type { AgentContext } from './context.js';
import type { EventSink } from './event-sink.js';
import { dateNow, mapClear, mapDelete, mapForEach, mapGet, mapSet, mapSize } from './intrinsics.js';
import { currentInvocation } from './invocation.js';

export type EventDetails = Record<string, unknown>;

interface OpenWindow {
  event: AgentEvent;
  repeats: number;
  closesAt: number;
  /** For an overflow window: some of the targets it counts. */
  samples?: string[];
}

const DEFAULT_WINDOW_MS = 1000;
const MAX_OPEN_WINDOWS = 10_000;
const MAX_NEW_EVENTS_PER_WINDOW = 100;
const MAX_SAMPLE_TARGETS = 5;
export const MULTIPLE_TARGETS = '(multiple targets)';
let budgetStartedAt = 0;
let lastRequestId: string | undefined;
let newEventsInWindow = 0;

let sink: EventSink | undefined;
let windowMs = DEFAULT_WINDOW_MS;
const windows = new Map<string, OpenWindow>();
let timer: NodeJS.Timeout | undefined;
const setTimer = setTimeout;
const now = dateNow;

/** Connects the reporter to its sink; `aggregateWindowMs` 0 turns aggregation off. */
export function initReporter(options: { sink: EventSink; aggregateWindowMs?: number }): void {
  sink = options.sink;
  windowMs = options.aggregateWindowMs ?? DEFAULT_WINDOW_MS;
}

/** Records one observe/deny decision; returns the event's target. */
export function recordDecision(
  context: AgentContext,
  op: Operation,
  decision: NonGrantDecision,
  options: { details?: EventDetails | undefined; terminated: boolean; attribution?: Attribution | undefined },
): { target: string } {
  const target = describeTarget(op);
  // Per invocation: each invocation's first occurrence is its own event (with its request id); the
  // counts still pending from the previous invocation are written as soon as a new one shows up.
  const requestId = currentInvocation().requestId ?? '';
  if (requestId !== lastRequestId) {
    if (lastRequestId !== undefined) flushPendingEvents();
    lastRequestId = requestId;
  }
  const key = `${op.category}\u0000${decision.verdict}\u0000${op.operation}\u0000${target}`;
  const open = windowMs > 0 ? mapGet(windows, key) : undefined;
  if (open && !options.terminated) {
    open.repeats++;
    return { target };
  }
  if (windowMs > 0 && !options.terminated && overBudget()) {
    countOverflow(context, op, decision, target, options);
    return { target };
  }
  const event = buildEvent(context, op, decision, target, options);
  sink?.write(event);
  if (windowMs > 0 && !options.terminated && mapSize(windows) < MAX_OPEN_WINDOWS) {
    mapSet(windows, key, { event, repeats: 0, closesAt: now() + windowMs });
    scheduleSweep();
  }
  return { target };
}

function overBudget(): boolean {
  const time = now();
  if (time - budgetStartedAt >= windowMs) {
    budgetStartedAt = time;
    newEventsInWindow = 0;
  }
  return ++newEventsInWindow > MAX_NEW_EVENTS_PER_WINDOW;
}

function countOverflow(
  context: AgentContext,
  op: Operation,
  decision: NonGrantDecision,
  target: string,
  options: { details?: EventDetails | undefined; terminated: boolean; attribution?: Attribution | undefined },
): void {
  const key = `${op.category}\u0000${decision.verdict}\u0000${op.operation}\u0000\u0001overflow`;
  let overflow = mapGet(windows, key);
  if (!overflow) {
    const event = buildEvent(context, op, decision, MULTIPLE_TARGETS, options);
    overflow = { event, repeats: 0, closesAt: now() + windowMs, samples: [] };
    mapSet(windows, key, overflow);
    scheduleSweep();
  }
  overflow.repeats++;
  if (
    overflow.samples &&
    overflow.samples.length < MAX_SAMPLE_TARGETS &&
    !overflow.samples.includes(target)
  ) {
    overflow.samples.push(target);
  }
}

function buildEvent(
  context: AgentContext,
  op: Operation,
  decision: NonGrantDecision,
  target: string,
  options: { details?: EventDetails | undefined; terminated: boolean; attribution?: Attribution | undefined },
): AgentEvent {
  const { metadata } = context;
  const event = createEvent({
    op,
    decision,
    policyGroup: context.policy.name,
    terminated: options.terminated,
    target,
    count: 1,
    runtime: metadata.runtime,
    provider: metadata.provider,
    agentVersion: metadata.agentVersion,
  });
  if (metadata.function) event.function = metadata.function;
  if (metadata.functionVersion) event.functionVersion = metadata.functionVersion;
  if (metadata.region) event.region = metadata.region;
  const invocation = currentInvocation();
  if (invocation.requestId) event.requestId = invocation.requestId;
  // captured by the hook when the decision comes later than the app's call (see hooks/net.ts)
  let attribution = options.attribution;
  try {
    attribution ??= attributeCall(recordDecision);
  } catch {
    attribution = undefined; // metadata: an event without it is still the event
  }
  if (attribution?.module) event.module = attribution.module;
  if (attribution && attribution.stack.length > 0) event.stack = attribution.stack;
  const details: EventDetails = { ...options.details };
  if (op.category === 'network') {
    if (op.operation === 'dns') {
      if (op.rrtype) details.rrtype = op.rrtype;
    } else if (op.protocol && op.protocol !== 'tcp') {
      details.protocol = op.protocol;
    }
  }
  if (invocation.traceId) details.traceId = invocation.traceId;
  if (Object.keys(details).length > 0) event.details = details;
  return event;
}

function scheduleSweep(): void {
  if (timer) return;
  timer = setTimer(sweep, windowMs);
  timer.unref();
}

function sweep(): void {
  timer = undefined;
  const time = now();
  const closed: string[] = [];
  mapForEach(windows, (open, key) => {
    if (open.closesAt > time) return;
    if (open.repeats === 0) {
      closed[closed.length] = key;
      return;
    }
    writeRepeats(open);
    open.repeats = 0;
    open.closesAt = time + windowMs;
  });
  for (let i = 0; i < closed.length; i++) mapDelete(windows, closed[i]!);
  if (mapSize(windows) > 0) scheduleSweep();
}

function writeRepeats(open: OpenWindow): void {
  const event: AgentEvent = {
    ...open.event,
    id: uuidv7(),
    time: new Date().toISOString(),
    count: open.repeats,
  };
  if (open.samples) {
    event.details = { ...open.event.details, sampleTargets: open.samples };
    open.samples = [];
  }
  sink?.write(event);
}

/** Writes every pending repeat count now (at exit, and before terminateOnDeny ends the process). */
export function flushPendingEvents(): void {
  mapForEach(windows, (open) => {
    if (open.repeats > 0) writeRepeats(open);
    open.repeats = 0;
  });
  mapClear(windows);
}
