import { useEffect, useState } from 'react';
import { api, messageOf } from '../api/client.js';
import type { FunctionRecord } from '../api/types.js';
import { ErrorAlert } from '../components/error-alert.js';
import { EventsView } from '../components/events-view.js';
import { Link } from '../components/link.js';
import { formatDateTime, formatRelative } from '../lib/format.js';
import { useNow } from '../lib/use-now.js';

/** One function: what its agent reported, and its events with their timeline. */
export function FunctionPage({ name }: { name: string }) {
  const [records, setRecords] = useState<FunctionRecord[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const nowMs = useNow(30_000);

  useEffect(() => {
    api
      .functions()
      .then((result) => setRecords(result.functions.filter((fn) => fn.functionName === name)))
      .catch((cause: unknown) => setError(messageOf(cause)));
  }, [name]);

  return (
    <div className="page">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href="/functions">Functions</Link> <span aria-hidden="true">/</span>{' '}
        <span aria-current="page">{name}</span>
      </nav>
      <header className="page-header">
        <div>
          <h1>{name}</h1>
        </div>
      </header>
      <ErrorAlert message={error} />
      {records && records.length === 0 && (
        <p className="muted">
          No agent has reported this function; its events are shown below if there are any.
        </p>
      )}
      {records?.map((fn) => (
        <dl
          className="facts function-facts panel"
          key={fn.id ?? `${fn.provider}/${fn.region}/${fn.functionName}`}
        >
          <dt>Provider</dt>
          <dd>
            {fn.provider ?? '—'}
            {fn.region && ` · ${fn.region}`}
            {fn.accountId && <span className="muted"> · account {fn.accountId}</span>}
          </dd>
          <dt>Runtime</dt>
          <dd className="mono">
            {fn.runtime ?? '—'} {fn.architecture && `· ${fn.architecture}`}{' '}
            {fn.memoryMb && `· ${fn.memoryMb} MB`}
          </dd>
          <dt>Policy group</dt>
          <dd>
            {fn.policyGroup ? (
              <Link href={`/policy-groups/${encodeURIComponent(fn.policyGroup)}`}>{fn.policyGroup}</Link>
            ) : (
              '—'
            )}
          </dd>
          <dt>Version</dt>
          <dd className="mono">{fn.functionVersion ?? '—'}</dd>
          <dt>Agent</dt>
          <dd className="mono">{fn.agentVersion ?? '—'}</dd>
          <dt>First seen</dt>
          <dd title={formatDateTime(fn.firstSeen)}>{formatRelative(fn.firstSeen, nowMs)}</dd>
          <dt>Last seen</dt>
          <dd title={formatDateTime(fn.lastSeen)}>{formatRelative(fn.lastSeen, nowMs)}</dd>
        </dl>
      ))}
      <EventsView fixedFunction={name} />
    </div>
  );
}
