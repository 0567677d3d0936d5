import { type ReactNode, useEffect, useRef } from 'react';
import type { AppDefenderEvent } from '../api/types.js';
import { formatDateTime, formatRelative } from '../lib/format.js';
import { CopyButton } from './copy-button.js';
import { Link } from './link.js';

export interface EventDrawerProps {
  event: AppDefenderEvent | null;
  nowMs: number;
  onClose: () => void;
  onFilter?: (field: 'function' | 'policyGroup' | 'text', value: string) => void;
}

// Fields shown in the summary; everything else an agent sends appears under "Other fields".
const KNOWN_FIELDS = new Set([
  'id',
  'time',
  'category',
  'action',
  'operation',
  'target',
  'terminated',
  'policyGroup',
  'count',
  'rule',
  'reason',
  'function',
  'functionVersion',
  'requestId',
  'runtime',
  'provider',
  'region',
  'agentVersion',
  'module',
  'stack',
  'details',
]);

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

/**
 * The whole event in a modal side panel. A native <dialog> gives focus containment, Escape to
 * close and focus return to the row that opened it.
 */
export function EventDrawer({ event, nowMs, onClose, onFilter }: EventDrawerProps) {
  const dialogRef = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const dialog = dialogRef.current;
    if (!dialog) return;
    if (event && !dialog.open) dialog.showModal();
    if (!event && dialog.open) dialog.close();
  }, [event]);

  const extra = event ? Object.entries(event).filter(([key]) => !KNOWN_FIELDS.has(key)) : [];
  const raw = event ? JSON.stringify(event, null, 2) : '';
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: the click closes on the backdrop; keyboard users close with Escape (native to <dialog>)
    <dialog
      ref={dialogRef}
      className="drawer"
      aria-labelledby="drawer-title"
      onClose={onClose}
      onClick={(click) => {
        // A click on the backdrop (the dialog element itself, outside the panel) closes it.
        if (click.target === dialogRef.current) onClose();
      }}
    >
      {event && (
        <div className="drawer-panel">
          <header className="drawer-header">
            <div>
              <p className="drawer-kicker">
                <span className={`badge action-${event.action}`}>{event.action}</span>
                <span className={`cat cat-${event.category}`}>{event.category}</span>
                <span className="mono">{event.operation}</span>
                {event.terminated && <span className="badge terminated">terminated</span>}
              </p>
              <h2 id="drawer-title" className="drawer-title mono">
                {event.target}
              </h2>
            </div>
            <button
              type="button"
              className="button ghost small"
              onClick={onClose}
              aria-label="Close event details"
            >
              Close
            </button>
          </header>
          <div className="drawer-body">
            <dl className="facts">
              <Row label="Time">
                <time dateTime={event.time}>{formatDateTime(event.time)}</time>{' '}
                <span className="muted">({formatRelative(event.time, nowMs)})</span>
              </Row>
              <Row label="Function">
                {event.function ? (
                  <>
                    <Link href={`/functions/${encodeURIComponent(event.function)}`}>{event.function}</Link>
                    {event.functionVersion && (
                      <span className="muted"> · version {event.functionVersion}</span>
                    )}
                  </>
                ) : (
                  '—'
                )}
              </Row>
              <Row label="Policy group">
                {event.policyGroup === 'observeAll.ability' ? (
                  <code>{event.policyGroup}</code>
                ) : (
                  <Link href={`/policy-groups/${encodeURIComponent(event.policyGroup)}`}>
                    {event.policyGroup}
                  </Link>
                )}
              </Row>
              <Row label="Decided by">
                {event.rule ?? '—'}
                {event.reason && <span className="muted"> · {event.reason}</span>}
              </Row>
              <Row label="Module">
                {event.module ? (
                  <code>
                    {event.module.name}
                    {event.module.version ? `@${event.module.version}` : ''}
                  </code>
                ) : (
                  <span className="muted">the application's own code</span>
                )}
              </Row>
              {event.count !== undefined && event.count > 1 && <Row label="Repeats">{event.count} times</Row>}
              <Row label="Request id">{event.requestId ? <code>{event.requestId}</code> : '—'}</Row>
              <Row label="Runtime">
                {[event.runtime, event.provider, event.region].filter(Boolean).join(' · ') || '—'}
              </Row>
              <Row label="Agent">{event.agentVersion ?? '—'}</Row>
              <Row label="Event id">
                <code>{event.id}</code>
              </Row>
            </dl>
            <section aria-labelledby="drawer-stack">
              <h3 id="drawer-stack">Stack</h3>
              {event.stack && event.stack.length > 0 ? (
                <ol className="stack mono">
                  {event.stack.map((frame, index) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: frames can repeat; order is the identity
                    <li key={index}>{frame}</li>
                  ))}
                </ol>
              ) : (
                <p className="muted">No application frames were recorded.</p>
              )}
            </section>
            {event.details && Object.keys(event.details).length > 0 && (
              <section aria-labelledby="drawer-details">
                <h3 id="drawer-details">Details</h3>
                <dl className="facts">
                  {Object.entries(event.details).map(([key, value]) => (
                    <Row key={key} label={key}>
                      <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
                    </Row>
                  ))}
                </dl>
              </section>
            )}
            {extra.length > 0 && (
              <section aria-labelledby="drawer-extra">
                <h3 id="drawer-extra">Other fields</h3>
                <dl className="facts">
                  {extra.map(([key, value]) => (
                    <Row key={key} label={key}>
                      <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
                    </Row>
                  ))}
                </dl>
              </section>
            )}
            {onFilter && (
              <div className="drawer-actions">
                {event.function && (
                  <button
                    type="button"
                    className="button small"
                    onClick={() => onFilter('function', event.function!)}
                  >
                    Only this function
                  </button>
                )}
                <button
                  type="button"
                  className="button small"
                  onClick={() => onFilter('policyGroup', event.policyGroup)}
                >
                  Only this policy group
                </button>
                <button type="button" className="button small" onClick={() => onFilter('text', event.target)}>
                  Search this target
                </button>
              </div>
            )}
            <details className="raw">
              <summary>Raw JSON</summary>
              <div className="snippet">
                <pre className="code">
                  <code>{raw}</code>
                </pre>
                <CopyButton text={raw} />
              </div>
            </details>
          </div>
        </div>
      )}
    </dialog>
  );
}
