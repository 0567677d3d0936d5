import { useEffect, useState } from 'react';
import { api, messageOf } from '../api/client.js';
import type { FunctionRecord } from '../api/types.js';
import { ErrorAlert } from '../components/error-alert.js';
import { Link } from '../components/link.js';
import { formatCount, formatDateTime, formatRelative } from '../lib/format.js';
import { useNow } from '../lib/use-now.js';

export function FunctionsPage() {
  const [functions, setFunctions] = useState<FunctionRecord[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const nowMs = useNow(30_000);

  // Refreshed every 15 s, so a function that starts for the first time appears without a reload.
  useEffect(() => {
    let cancelled = false;
    const load = () =>
      api
        .functions()
        .then((result) => {
          if (cancelled) return;
          setFunctions(result.functions);
          setError(null);
        })
        .catch((cause: unknown) => {
          if (!cancelled) setError(messageOf(cause));
        });
    void load();
    const timer = setInterval(load, 15_000);
    return () => {
      cancelled = true;
      clearInterval(timer);
    };
  }, []);

  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Functions</h1>
          <p className="muted">Every function AppDefender protects, as reported by its agent at start.</p>
        </div>
      </header>
      <ErrorAlert message={error} />
      {functions && functions.length === 0 && (
        <div className="empty panel">
          <h2>No functions yet</h2>
          <p>
            A function appears here on its first start with AppDefender. <Link href="/setup">Set one up</Link>
            : one layer and three environment variables.
          </p>
        </div>
      )}
      {functions && functions.length > 0 && (
        <div className="table-wrap">
          <table className="table functions-table">
            <thead>
              <tr>
                <th scope="col">Function</th>
                <th scope="col">Events, 24 h</th>
                <th scope="col">Policy group</th>
                <th scope="col" className="hide-sm">
                  Provider · region
                </th>
                <th scope="col" className="hide-sm">
                  Runtime
                </th>
                <th scope="col" className="hide-md">
                  Arch
                </th>
                <th scope="col" className="hide-md">
                  Agent
                </th>
                <th scope="col" className="hide-md">
                  First seen
                </th>
                <th scope="col">Last seen</th>
              </tr>
            </thead>
            <tbody>
              {functions.map((fn) => {
                const count = fn.events24h;
                return (
                  <tr key={fn.id ?? `${fn.provider}/${fn.region}/${fn.functionName}`}>
                    <th scope="row">
                      <Link href={`/functions/${encodeURIComponent(fn.functionName)}`} className="row-link">
                        {fn.functionName}
                      </Link>
                      {fn.functionVersion && <span className="muted small"> · {fn.functionVersion}</span>}
                    </th>
                    <td className="counts" data-label="Events, 24 h">
                      {count === undefined ? (
                        <span className="muted">—</span>
                      ) : (
                        <>
                          <span className={`count-chip action-deny${count.deny ? '' : ' zero'}`}>
                            {formatCount(count.deny)}
                            <span className="sr-only"> denied</span>
                            <span aria-hidden="true"> deny</span>
                          </span>
                          <span className={`count-chip action-observe${count.observe ? '' : ' zero'}`}>
                            {formatCount(count.observe)}
                            <span className="sr-only"> observed</span>
                            <span aria-hidden="true"> observe</span>
                          </span>
                        </>
                      )}
                    </td>
                    <td data-label="Policy group">
                      {fn.policyGroup ? (
                        <Link href={`/policy-groups/${encodeURIComponent(fn.policyGroup)}`}>
                          {fn.policyGroup}
                        </Link>
                      ) : (
                        '—'
                      )}
                    </td>
                    <td className="hide-sm">
                      <span className="provider">{fn.provider ?? '—'}</span>
                      {fn.region && <span className="muted"> · {fn.region}</span>}
                    </td>
                    <td className="hide-sm mono small">{fn.runtime ?? '—'}</td>
                    <td className="hide-md mono small">{fn.architecture ?? '—'}</td>
                    <td className="hide-md mono small">{fn.agentVersion ?? '—'}</td>
                    <td className="hide-md small" title={formatDateTime(fn.firstSeen)}>
                      {formatRelative(fn.firstSeen, nowMs)}
                    </td>
                    <td className="small" data-label="Last seen" title={formatDateTime(fn.lastSeen)}>
                      {formatRelative(fn.lastSeen, nowMs)}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
