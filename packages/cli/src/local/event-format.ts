import type { Style } from '../output.js';

/** The fields of an event we print (contract §2 plus the optional ones of docs/architecture.md). */
export interface PrintableEvent {
  id?: string;
  time?: string;
  category?: string;
  action?: string;
  operation?: string;
  target?: string;
  terminated?: boolean;
  policyGroup?: string;
  function?: string;
  count?: number;
  rule?: string;
  reason?: string;
  module?: { name?: string; version?: string };
}

/** Recognises an AppDefender event among other JSON (e.g. a line of the program's own output). */
export function isEvent(value: unknown): value is PrintableEvent {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['id'] === 'string' &&
    typeof v['category'] === 'string' &&
    (v['action'] === 'observe' || v['action'] === 'deny') &&
    typeof v['operation'] === 'string'
  );
}

/** One readable line: `12:00:01.234 DENY    network     connect  api.evil.example:443  by evil-pkg@1.0.0`. */
export function formatEvent(event: PrintableEvent, style: Style): string {
  const time = event.time ? event.time.slice(11, 23) : '--:--:--.---';
  const action = (event.action ?? '?').toUpperCase().padEnd(7);
  const actionText = event.action === 'deny' ? style.red(style.bold(action)) : style.yellow(action);
  const parts = [
    style.dim(time),
    actionText,
    (event.category ?? '?').padEnd(10),
    (event.operation ?? '?').padEnd(8),
    style.bold(event.target ?? ''),
  ];
  const extras: string[] = [];
  if (event.module?.name)
    extras.push(`by ${event.module.name}${event.module.version ? `@${event.module.version}` : ''}`);
  if (event.function) extras.push(`fn=${event.function}`);
  if (event.policyGroup) extras.push(`group=${event.policyGroup}`);
  if (event.count && event.count > 1) extras.push(`x${event.count}`);
  if (event.terminated) extras.push(style.red('TERMINATED'));
  return `${parts.join(' ')}${extras.length ? `  ${style.dim(extras.join(' '))}` : ''}`;
}
