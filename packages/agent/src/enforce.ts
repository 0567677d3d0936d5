/**
 * The one place that turns an operation into a verdict and raises ERR_ACCESS_DENIED.
 *
 * Hooks describe what the app is doing as an `Operation` and call `enforce`. It returns null when
 * the operation may proceed (granted, or observed after its event was recorded) and an Error when it
 * is denied; the hook then fails the call the way that API fails (throw for sync APIs, callback
 * error / rejected promise / 'error' event for async ones). With terminateOnDeny the event is
 * written synchronously and the process ends here, before the operation happens.
 *
 * `enforce` never throws: a failure of the agent itself is logged once and the operation is then
 * decided by the fail mode (open and observe let it through, closed denies it).
 */
import { type Decision, describeTarget, type NonGrantDecision, type Operation } from '@appdefender/policy';
import { isAgentWork } from './agent-work.js';
import type { Attribution } from './attribution.js';
import { type AgentContext, getContext } from './context.js';
import { describeError, logLine, logOnce } from './log.js';
import { type EventDetails, recordDecision } from './report.js';
import { terminateProcess } from './terminate.js';

export type { Operation };

/** The error a denied operation fails with (contract §3). */
export class AccessDeniedError extends Error {
  readonly code = 'ERR_ACCESS_DENIED';
  readonly category: Operation['category'];
  readonly operation: string;
  readonly target: string;
  readonly policyGroup: string;
  readonly rule: string;

  constructor(options: {
    message: string;
    op: Operation;
    target: string;
    policyGroup: string;
    rule: string;
  }) {
    super(options.message);
    this.name = 'Error';
    this.category = options.op.category;
    this.operation = options.op.operation;
    this.target = options.target;
    this.policyGroup = options.policyGroup;
    this.rule = options.rule;
  }
}

/**
 * Judges `op` and records an event for observe/deny.
 * @param op built with every field an own property (network/operations.ts explains why)
 * @param details extra event details (url, method, resolved ip...), never used for the verdict
 * @returns null to proceed, or the ERR_ACCESS_DENIED error to fail the call with
 * @example
 *   const denied = enforce(networkOp('connect', 'tcp', host, undefined, port));
 *   if (denied) return process.nextTick(callback, denied);
 */
export function enforce(op: Operation, details?: EventDetails): Error | null {
  return judge(op, details).error;
}

/** What `judge` concluded: the verdict, and the error to fail the call with when denied. */
export interface Judgement {
  verdict: Decision['verdict'];
  error: Error | null;
}

const PASS: Judgement = Object.freeze({ verdict: 'grant', error: null });

/**
 * Like `enforce`, also telling the verdict: network hooks judge a connection by name first and by
 * the address dialled later, and skip the second judgement when the first was already reported.
 */
export function judge(op: Operation, details?: EventDetails, attribution?: Attribution): Judgement {
  if (isAgentWork()) return PASS;
  const context = getContext();
  if (!context) return PASS;
  let decision: Decision;
  try {
    decision = context.decider.decide(op);
  } catch (error) {
    logOnce(
      `decide:${describeError(error)}`,
      `could not decide ${op.category}/${op.operation}: ${describeError(error)}`,
    );
    decision = failModeDecision(context, error);
  }
  if (decision.verdict === 'grant') return PASS;
  return { verdict: decision.verdict, error: act(context, op, decision, details, attribution) };
}

/** Verdict when the decider itself failed: the fail mode decides, as when no policy can be had. */
function failModeDecision(context: AgentContext, error: unknown): Decision {
  const reason = `agent error (${describeError(error)}); ES_FAIL_MODE=${context.failMode}`;
  if (context.failMode === 'open') return { verdict: 'grant', rule: 'failMode' };
  if (context.failMode === 'closed') return { verdict: 'deny', rule: 'failMode', reason };
  return { verdict: 'observe', rule: 'failMode', reason };
}

function act(
  context: AgentContext,
  op: Operation,
  decision: NonGrantDecision,
  details: EventDetails | undefined,
  attribution: Attribution | undefined,
): Error | null {
  const terminate = decision.verdict === 'deny' && context.policy.terminateOnDeny;
  let target = '';
  try {
    target = describeTarget(op);
    target = recordDecision(context, op, decision, { details, terminated: terminate, attribution }).target;
  } catch (error) {
    logOnce(`record:${describeError(error)}`, `could not record an event: ${describeError(error)}`);
  }
  if (decision.verdict === 'observe') return null;
  if (terminate) {
    logLine(
      `terminating the process: ${op.category} ${op.operation} ${target} denied by policy group "${context.policy.name}" (terminateOnDeny)`,
    );
    terminateProcess();
  }
  return new AccessDeniedError({
    message: `AppDefender denied ${op.category} ${op.operation} ${target}: policy group "${context.policy.name}", rule ${decision.rule} (${decision.reason})`,
    op,
    target,
    policyGroup: context.policy.name,
    rule: decision.rule,
  });
}
