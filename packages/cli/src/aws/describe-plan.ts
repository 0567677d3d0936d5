import type { Style } from '../output.js';
import { ENABLED_BY_VAR } from './constants.js';
import type { ConfigurationPlan } from './enable-plan.js';

export interface PlanChanges {
  layers: { before: string[]; after: string[]; added: string[]; removed: string[] };
  environment: {
    added: Record<string, string>;
    changed: Record<string, { from: string; to: string }>;
    removed: string[];
  };
}

const secretName = /KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL/i;

/** Hides secrets in what we print: `adk_live_…9f2c`. Values stay intact in the update itself. */
export function displayValue(name: string, value: string): string {
  if (name === ENABLED_BY_VAR) return '(record of what enable changed, for disable)';
  if (!secretName.test(name)) return value;
  return value.length <= 8 ? '****' : `${value.slice(0, value.indexOf('_', 4) + 1 || 4)}…${value.slice(-4)}`;
}

export function planChanges(plan: ConfigurationPlan): PlanChanges {
  const { before, after } = plan;
  const added: Record<string, string> = {};
  const changed: Record<string, { from: string; to: string }> = {};
  for (const [name, value] of Object.entries(after.environment)) {
    const old = before.environment[name];
    if (old === undefined) added[name] = displayValue(name, value);
    else if (old !== value) changed[name] = { from: displayValue(name, old), to: displayValue(name, value) };
  }
  return {
    layers: {
      before: before.layers,
      after: after.layers,
      added: after.layers.filter((arn) => !before.layers.includes(arn)),
      removed: before.layers.filter((arn) => !after.layers.includes(arn)),
    },
    environment: {
      added,
      changed,
      removed: Object.keys(before.environment).filter((name) => !(name in after.environment)),
    },
  };
}

/** The change as lines for a person: + added, - removed, ~ changed. */
export function describePlan(plan: ConfigurationPlan, style: Style): string[] {
  if (!plan.changed) return ['  no change: the function already has this configuration'];
  const changes = planChanges(plan);
  const lines = ['  layers:'];
  for (const arn of plan.after.layers) {
    lines.push(changes.layers.added.includes(arn) ? style.green(`    + ${arn}`) : style.dim(`      ${arn}`));
  }
  for (const arn of changes.layers.removed) lines.push(style.red(`    - ${arn}`));
  if (plan.after.layers.length === 0 && changes.layers.removed.length === 0)
    lines.push(style.dim('      (none)'));
  lines.push('  environment:');
  const env = changes.environment;
  for (const [name, value] of Object.entries(env.added)) lines.push(style.green(`    + ${name}=${value}`));
  for (const [name, { from, to }] of Object.entries(env.changed)) {
    lines.push(style.yellow(`    ~ ${name}: ${from} -> ${to}`));
  }
  for (const name of env.removed) lines.push(style.red(`    - ${name}`));
  const untouched =
    Object.keys(plan.after.environment).length -
    Object.keys(env.added).length -
    Object.keys(env.changed).length;
  if (untouched > 0)
    lines.push(style.dim(`      (${untouched} other variable${untouched === 1 ? '' : 's'} kept)`));
  return lines;
}
