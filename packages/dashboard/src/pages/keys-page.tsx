import { type FormEvent, useCallback, useEffect, useId, useState } from 'react';
import { ApiError, api } from '../api/client.js';
import type { CredentialInfo } from '../api/types.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { CopyButton } from '../components/copy-button.js';
import { ErrorAlert } from '../components/error-alert.js';
import { formatDateTime, formatRelative } from '../lib/format.js';
import { useNow } from '../lib/use-now.js';

/** What differs between license keys and api tokens; the section is the same for both. */
interface CredentialKind {
  /** "license key" / "api token" */
  noun: string;
  title: string;
  description: string;
  /** What revoking breaks, said in the confirmation. */
  revokeConsequence: string;
  /** The name of the text field at creation: "Label" / "Name". */
  nameField: string;
  namePlaceholder: string;
  testId: string;
  list: () => Promise<Array<CredentialInfo & { name: string | null }>>;
  create: (name: string) => Promise<{ secret: string; info: CredentialInfo & { name: string | null } }>;
  revoke: (id: string) => Promise<unknown>;
}

const LICENSE_KEYS: CredentialKind = {
  noun: 'license key',
  title: 'License keys',
  description:
    'Agents and the Lambda extension authenticate with a license key (ES_LICENSE_KEY). Give each team, stage or pipeline its own, so one can be revoked without touching the others.',
  revokeConsequence:
    'Functions that use it get 401 from their next call to AppDefender: they can no longer fetch their policy group or report events.',
  nameField: 'Label',
  namePlaceholder: 'e.g. production, ci-pipeline',
  testId: 'license-key',
  list: async () => (await api.licenseKeys()).licenseKeys.map((key) => ({ ...key, name: key.label })),
  create: async (label) => {
    const result = await api.createLicenseKey(label);
    return { secret: result.licenseKey, info: { ...result.key, name: result.key.label } };
  },
  revoke: (id) => api.revokeLicenseKey(id),
};

const API_TOKENS: CredentialKind = {
  noun: 'api token',
  title: 'API tokens',
  description:
    'The appdefender CLI and scripts authenticate with an api token (ES_API_TOKEN, or Authorization: Bearer). It reads and manages this account, like this dashboard.',
  revokeConsequence:
    'Scripts and CLIs that use it get 401 from their next call. Your dashboard session is not affected.',
  nameField: 'Name',
  namePlaceholder: 'e.g. deploy, laptop',
  testId: 'api-token',
  list: async () => (await api.apiTokens()).apiTokens,
  create: async (name) => {
    const result = await api.createApiToken(name);
    return { secret: result.apiToken, info: result.token };
  },
  revoke: (id) => api.revokeApiToken(id),
};

function messageOf(cause: unknown): string {
  return cause instanceof ApiError || cause instanceof Error ? cause.message : String(cause);
}

function displayName(entry: { name: string | null }, noun: string): string {
  return entry.name ?? `unlabelled ${noun}`;
}

function CredentialSection({ kind }: { kind: CredentialKind }) {
  const nowMs = useNow(30_000);
  const headingId = useId();
  const nameId = useId();
  const [entries, setEntries] = useState<Array<CredentialInfo & { name: string | null }> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ secret: string; name: string } | null>(null);
  const [confirming, setConfirming] = useState<(CredentialInfo & { name: string | null }) | null>(null);
  const [revoking, setRevoking] = useState(false);
  const [revokeError, setRevokeError] = useState<string | null>(null);
  const [announcement, setAnnouncement] = useState('');

  const load = useCallback(async () => {
    try {
      setEntries(await kind.list());
      setError(null);
    } catch (cause) {
      setError(messageOf(cause));
    }
  }, [kind]);

  // Refreshed every 30 s, so "last used" follows what agents and scripts do meanwhile.
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 30_000);
    return () => clearInterval(timer);
  }, [load]);

  const onCreate = async (event: FormEvent) => {
    event.preventDefault();
    setCreating(true);
    try {
      const result = await kind.create(name.trim());
      setCreated({ secret: result.secret, name: displayName(result.info, kind.noun) });
      setName('');
      setAnnouncement('');
      await load();
    } catch (cause) {
      setError(messageOf(cause));
    } finally {
      setCreating(false);
    }
  };

  const onRevoke = async () => {
    if (!confirming) return;
    setRevoking(true);
    try {
      await kind.revoke(confirming.id);
      setAnnouncement(`The ${kind.noun} “${displayName(confirming, kind.noun)}” was revoked.`);
      setConfirming(null);
      setRevokeError(null);
      await load();
    } catch (cause) {
      setRevokeError(messageOf(cause));
    } finally {
      setRevoking(false);
    }
  };

  const isLast = entries !== null && entries.length === 1;
  return (
    <section className="panel" aria-labelledby={headingId}>
      <div className="panel-header">
        <h2 id={headingId}>{kind.title}</h2>
      </div>
      <p className="muted">{kind.description}</p>
      {created && (
        <div className="new-secret" data-testid={`new-${kind.testId}`}>
          <h3>
            New {kind.noun} “{created.name}”
          </h3>
          <div className="secret">
            <code data-testid={`new-${kind.testId}-secret`}>{created.secret}</code>
            <CopyButton text={created.secret} />
          </div>
          <p className="warning-note" role="note">
            Copy it now and keep it like a password: AppDefender stores only its hash, so this is the only
            time it is shown.
          </p>
          <button type="button" className="button small" onClick={() => setCreated(null)}>
            Done, I saved it
          </button>
        </div>
      )}
      <div role="status">{announcement && <p className="info-note">{announcement}</p>}</div>
      <ErrorAlert message={error} />
      {entries && entries.length === 0 && (
        <p className="warning-note">
          This account has no {kind.noun} left. Create one below
          {kind.noun === 'license key' ? ' before setting up a function' : ''}.
        </p>
      )}
      {entries && entries.length > 0 && (
        <div className="table-wrap">
          <table className="table keys-table" aria-labelledby={headingId}>
            <thead>
              <tr>
                <th scope="col">{kind.nameField}</th>
                <th scope="col">Key</th>
                <th scope="col" className="hide-sm">
                  Created
                </th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.id} data-testid={`${kind.testId}-row`}>
                  <th scope="row">
                    {entry.name ?? <span className="muted">no {kind.nameField.toLowerCase()}</span>}
                  </th>
                  <td>
                    <code title="Only the last 4 characters are kept in clear">
                      {entry.prefix}…{entry.last4 ?? '????'}
                    </code>
                  </td>
                  <td className="hide-sm small">
                    <time dateTime={entry.createdAt} title={formatDateTime(entry.createdAt)}>
                      {formatRelative(entry.createdAt, nowMs)}
                    </time>
                  </td>
                  <td className="small" data-label="Last used">
                    {entry.lastUsedAt ? (
                      <time dateTime={entry.lastUsedAt} title={formatDateTime(entry.lastUsedAt)}>
                        {formatRelative(entry.lastUsedAt, nowMs)}
                      </time>
                    ) : (
                      <span className="muted">never</span>
                    )}
                  </td>
                  <td>
                    <button
                      type="button"
                      className="button small danger"
                      aria-label={`Revoke ${kind.noun} ${displayName(entry, kind.noun)} (…${entry.last4 ?? ''})`}
                      onClick={() => {
                        setRevokeError(null);
                        setConfirming(entry);
                      }}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form className="create-credential" onSubmit={(event) => void onCreate(event)}>
        <div className="field">
          <label htmlFor={nameId}>
            {kind.nameField} of a new {kind.noun} <span className="muted">(optional)</span>
          </label>
          <input
            id={nameId}
            value={name}
            maxLength={100}
            placeholder={kind.namePlaceholder}
            onChange={(event) => setName(event.target.value)}
          />
        </div>
        <button type="submit" className="button primary" disabled={creating}>
          {creating ? 'Creating…' : `Create ${kind.noun}`}
        </button>
      </form>
      <ConfirmDialog
        open={confirming !== null}
        title={`Revoke ${kind.noun} “${confirming ? displayName(confirming, kind.noun) : ''}”?`}
        confirmLabel={`Revoke ${kind.noun}`}
        busyLabel="Revoking…"
        busy={revoking}
        error={revokeError}
        onConfirm={() => void onRevoke()}
        onCancel={() => setConfirming(null)}
      >
        <p>
          <code>
            {confirming?.prefix}…{confirming?.last4 ?? '????'}
          </code>
        </p>
        <p>{kind.revokeConsequence} This cannot be undone.</p>
        {isLast && kind.noun === 'license key' && (
          <p className="warning-note">
            It is this account’s last license key: no function can connect until you create another.
          </p>
        )}
      </ConfirmDialog>
    </section>
  );
}

export function KeysPage() {
  return (
    <div className="page narrow">
      <header className="page-header">
        <div>
          <h1>Keys and tokens</h1>
          <p className="muted">
            AppDefender keeps only a hash of each key, so a key is shown once, when it is created. Lost one?
            Create another and revoke the old one.
          </p>
        </div>
      </header>
      <CredentialSection kind={LICENSE_KEYS} />
      <CredentialSection kind={API_TOKENS} />
    </div>
  );
}
