import { OBSERVE_ALL } from '@appdefender/policy';
import { useEffect, useState } from 'react';
import { api, messageOf } from '../api/client.js';
import type { StoredPolicyGroup } from '../api/types.js';
import { ErrorAlert } from '../components/error-alert.js';
import { Link } from '../components/link.js';
import { ModePill } from '../components/mode-pill.js';
import { formatRelative } from '../lib/format.js';
import { useNow } from '../lib/use-now.js';

function count(list: string[] | string | undefined): number {
  if (!list) return 0;
  return Array.isArray(list) ? list.length : list.split(',').filter((entry) => entry.trim()).length;
}

function plural(value: number, noun: string): string {
  return `${value} ${noun}${value === 1 ? '' : 's'}`;
}

export function PolicyGroupsPage() {
  const [groups, setGroups] = useState<StoredPolicyGroup[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const nowMs = useNow(60_000);

  useEffect(() => {
    api
      .policyGroups()
      .then((result) => {
        const list = result.policyGroups;
        // The public group is always available to functions; show it even if the server lists only the account's own.
        if (!list.some((group) => group.name === OBSERVE_ALL.name))
          list.push({ ...OBSERVE_ALL, readOnly: true });
        setGroups(
          list.sort(
            (a, b) =>
              Number(a.readOnly ?? false) - Number(b.readOnly ?? false) || a.name.localeCompare(b.name),
          ),
        );
      })
      .catch((cause: unknown) => setError(messageOf(cause)));
  }, []);

  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Policy groups</h1>
          <p className="muted">
            What each function may do. A function picks its group with <code>ES_POLICY_GROUP_NAME</code>, and
            changes apply at its next start.
          </p>
        </div>
        <Link href="/policy-groups/new" className="button primary">
          New policy group
        </Link>
      </header>
      <ErrorAlert message={error} />
      {groups && (
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Network</th>
                <th scope="col">Filesystem</th>
                <th scope="col">Process</th>
                <th scope="col" className="hide-sm">
                  On deny
                </th>
                <th scope="col" className="hide-sm">
                  Allowed
                </th>
                <th scope="col" className="hide-sm">
                  Updated
                </th>
              </tr>
            </thead>
            <tbody>
              {groups.map((group) => (
                <tr key={group.name}>
                  <th scope="row">
                    <Link href={`/policy-groups/${encodeURIComponent(group.name)}`} className="row-link">
                      {group.name}
                    </Link>
                    {group.readOnly && <span className="tag">public · read-only</span>}
                    {group.description && <div className="muted small clamp">{group.description}</div>}
                  </th>
                  <td>
                    <ModePill mode={group.network} label="Network" />
                  </td>
                  <td>
                    <ModePill mode={group.filesystem} label="Filesystem" />
                  </td>
                  <td>
                    <ModePill mode={group.process} label="Process" />
                  </td>
                  <td className="hide-sm">{group.terminateOnDeny ? 'terminate' : 'block'}</td>
                  <td className="hide-sm small">
                    {plural(count(group.allowedDomains), 'domain')} ·{' '}
                    {plural(count(group.allowedPaths), 'path')} ·{' '}
                    {plural(count(group.allowedCommands), 'command')}
                  </td>
                  <td className="hide-sm small">
                    {group.updatedAt
                      ? `v${group.version ?? 1}, ${formatRelative(group.updatedAt, nowMs)}`
                      : '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
