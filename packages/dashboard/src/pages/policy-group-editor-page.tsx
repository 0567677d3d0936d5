import { matchDomain } from '@appdefender/policy';
import { type FormEvent, useEffect, useId, useMemo, useState } from 'react';
import { ApiError, api, messageOf } from '../api/client.js';
import type { StoredPolicyGroup } from '../api/types.js';
import { ErrorAlert } from '../components/error-alert.js';
import { Link } from '../components/link.js';
import { ModeControl } from '../components/mode-control.js';
import { formatRelative } from '../lib/format.js';
import {
  describeDomainEntry,
  EMPTY_FORM,
  type FieldIssue,
  formFromGroup,
  groupFromForm,
  issuesByField,
  type PolicyForm,
  splitDomains,
  splitLines,
} from '../lib/policy-form.js';
import { navigate } from '../lib/router.js';
import { type LiveValidation, validateLive } from '../lib/validate-live.js';
import { hasFeature, useSession } from '../session.js';

const CLOUD_FEATURE = 'allowCloudProviderTraffic';

function unwrapGroup(result: { policyGroup: StoredPolicyGroup } | StoredPolicyGroup): StoredPolicyGroup {
  return 'policyGroup' in result && typeof result.policyGroup === 'object'
    ? result.policyGroup
    : (result as StoredPolicyGroup);
}

function IssueList({
  id,
  issues,
  kind,
  entries,
}: {
  id: string;
  issues: FieldIssue[];
  kind: 'error' | 'warning';
  entries?: string[];
}) {
  if (issues.length === 0) return null;
  return (
    <ul className={kind === 'error' ? 'field-error' : 'field-warning'} id={id}>
      {issues.map((issue, position) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: issues have no identity beyond their order
        <li key={position}>
          {issue.index !== null && (
            <>
              <code>{entries?.[issue.index] ?? `entry ${issue.index + 1}`}</code>:{' '}
            </>
          )}
          {issue.message}
          {issue.suggestion && (
            <span className="suggestion">
              {' '}
              {/\s/.test(issue.suggestion) ? (
                issue.suggestion
              ) : (
                <>
                  Try <code>{issue.suggestion}</code>.
                </>
              )}
            </span>
          )}
        </li>
      ))}
    </ul>
  );
}

/** Create or edit one policy group; `observeAll.ability` and other read-only groups are shown, not edited. */
export function PolicyGroupEditorPage({ name }: { name: string | null }) {
  const session = useSession();
  const creating = name === null;
  const [form, setForm] = useState<PolicyForm>(EMPTY_FORM);
  const [stored, setStored] = useState<StoredPolicyGroup | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [serverError, setServerError] = useState<ApiError | null>(null);
  const [saving, setSaving] = useState(false);
  const [savedAt, setSavedAt] = useState<number | null>(null);
  const [probeHost, setProbeHost] = useState('');
  const id = useId();

  useEffect(() => {
    if (creating) {
      setForm(EMPTY_FORM);
      setStored(null);
      return;
    }
    api
      .policyGroup(name)
      .then((result) => {
        const group = unwrapGroup(result);
        setStored(group);
        setForm(formFromGroup(group));
      })
      .catch((cause: unknown) => setLoadError(messageOf(cause)));
  }, [name, creating]);

  const readOnly = stored?.readOnly === true || name === 'observeAll.ability';
  const cloudAllowed = hasFeature(session, CLOUD_FEATURE);
  const group = useMemo(() => groupFromForm(form), [form]);
  const live = useMemo<LiveValidation | { unavailable: string }>(() => {
    try {
      return validateLive(group);
    } catch (cause) {
      return { unavailable: cause instanceof Error ? cause.message : String(cause) };
    }
  }, [group]);
  const liveErrors = 'unavailable' in live ? [] : live.errors;
  const liveWarnings = 'unavailable' in live ? [] : live.warnings;
  // A name already taken is about the name field, though the server sends it without details.
  const serverDetails =
    serverError?.code === 'POLICY_GROUP_EXISTS'
      ? [{ field: 'name', message: serverError.message }]
      : (serverError?.details ?? []);
  const errors = issuesByField([...liveErrors, ...serverDetails]);
  const warnings = issuesByField(liveWarnings);
  const fieldErrors = (field: string) => errors.get(field) ?? [];
  const fieldWarnings = (field: string) => warnings.get(field) ?? [];
  const domainEntries = splitDomains(form.allowedDomains);
  const unplacedServerError = serverError && serverError.details.length === 0 ? serverError.message : null;

  const update = <K extends keyof PolicyForm>(key: K, value: PolicyForm[K]) => {
    setForm((current) => ({ ...current, [key]: value }));
    setServerError(null);
    setSavedAt(null);
  };

  async function save(event: FormEvent) {
    event.preventDefault();
    if (liveErrors.length > 0) {
      document.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    setSaving(true);
    setServerError(null);
    try {
      const body = cloudAllowed ? group : { ...group, allowCloudProviderTraffic: false };
      const result = creating ? await api.createPolicyGroup(body) : await api.updatePolicyGroup(name, body);
      const saved = unwrapGroup(result);
      setStored(saved);
      setForm(formFromGroup(saved));
      setSavedAt(Date.now());
      if (creating) navigate(`/policy-groups/${encodeURIComponent(saved.name)}`, { replace: true });
    } catch (cause) {
      setServerError(
        cause instanceof ApiError
          ? cause
          : new ApiError({ status: 0, code: 'UNKNOWN', message: String(cause) }),
      );
    } finally {
      setSaving(false);
    }
  }

  async function remove() {
    if (
      !name ||
      !window.confirm(
        `Delete the policy group “${name}”? Functions using it fail over to their ES_FAIL_MODE at next start.`,
      )
    )
      return;
    try {
      await api.deletePolicyGroup(name);
      navigate('/policy-groups');
    } catch (cause) {
      setServerError(
        cause instanceof ApiError
          ? cause
          : new ApiError({ status: 0, code: 'UNKNOWN', message: String(cause) }),
      );
    }
  }

  if (loadError) {
    return (
      <div className="page narrow">
        <h1>Policy group</h1>
        <p className="form-error" role="alert">
          {loadError}
        </p>
        <Link href="/policy-groups">Back to policy groups</Link>
      </div>
    );
  }

  const describedBy = (field: string, hint = true) =>
    [
      hint ? `${id}-${field}-hint` : '',
      fieldErrors(field).length ? `${id}-${field}-error` : '',
      fieldWarnings(field).length ? `${id}-${field}-warning` : '',
    ]
      .filter(Boolean)
      .join(' ') || undefined;

  /** The allowedPaths and allowedCommands fields: one entry a line, with their errors and warnings. */
  const lineListField = (options: {
    field: 'allowedPaths' | 'allowedCommands';
    inputId: string;
    label: string;
    placeholder: string;
    hint: string;
  }) => {
    const { field } = options;
    return (
      <div className="field">
        <label htmlFor={options.inputId}>{options.label}</label>
        <textarea
          id={options.inputId}
          className="mono"
          rows={3}
          spellCheck={false}
          placeholder={options.placeholder}
          value={form[field]}
          onChange={(event) => update(field, event.target.value)}
          aria-invalid={fieldErrors(field).length > 0 || undefined}
          aria-describedby={describedBy(field)}
        />
        <p className="field-hint" id={`${id}-${field}-hint`}>
          {options.hint}
        </p>
        <IssueList
          id={`${id}-${field}-error`}
          issues={fieldErrors(field)}
          kind="error"
          entries={splitLines(form[field])}
        />
        <IssueList id={`${id}-${field}-warning`} issues={fieldWarnings(field)} kind="warning" />
      </div>
    );
  };

  const probe = probeHost.trim().toLowerCase();
  const probeMatches = probe ? domainEntries.filter((entry) => safeMatch(entry, probe)) : [];

  return (
    <div className="page narrow">
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link href="/policy-groups">Policy groups</Link> <span aria-hidden="true">/</span>{' '}
        <span aria-current="page">{creating ? 'New' : name}</span>
      </nav>
      <header className="page-header">
        <div>
          <h1>{creating ? 'New policy group' : name}</h1>
          {stored?.updatedAt && !readOnly && (
            <p className="muted">
              Version {stored.version ?? 1}, updated {formatRelative(stored.updatedAt, Date.now())}
            </p>
          )}
        </div>
      </header>
      {readOnly ? (
        <p className="info-note" role="note">
          <strong>Read-only.</strong> <code>{name}</code> is a public policy group: it observes all three
          categories and blocks nothing. Create your own group to grant or deny.
        </p>
      ) : (
        <p className="info-note" role="note">
          Changes apply to each function at its <strong>next start</strong> (a cold start or restart); running
          instances keep the policy they started with.
        </p>
      )}
      {'unavailable' in live && !readOnly && (
        <p className="warning-note" role="note">
          Live validation is unavailable in this build ({live.unavailable}); the control plane still validates
          the group when you save.
        </p>
      )}
      <form className="editor" onSubmit={save} noValidate aria-label="Policy group">
        <fieldset disabled={readOnly} className="editor-fields">
          <div className="field">
            <label htmlFor={`${id}-name`}>Name</label>
            <input
              id={`${id}-name`}
              value={form.name}
              onChange={(event) => update('name', event.target.value)}
              readOnly={!creating}
              required
              autoComplete="off"
              spellCheck={false}
              aria-invalid={fieldErrors('name').length > 0 || undefined}
              aria-describedby={describedBy('name')}
            />
            <p className="field-hint" id={`${id}-name-hint`}>
              {creating
                ? 'What functions put in ES_POLICY_GROUP_NAME. It cannot be changed later.'
                : 'Functions select this group with ES_POLICY_GROUP_NAME.'}
            </p>
            <IssueList id={`${id}-name-error`} issues={fieldErrors('name')} kind="error" />
          </div>
          <div className="field">
            <label htmlFor={`${id}-description`}>Description</label>
            <textarea
              id={`${id}-description`}
              rows={2}
              value={form.description}
              onChange={(event) => update('description', event.target.value)}
              aria-invalid={fieldErrors('description').length > 0 || undefined}
              aria-describedby={describedBy('description')}
            />
            <p className="field-hint" id={`${id}-description-hint`}>
              Optional: what the group is for, who owns it.
            </p>
            <IssueList id={`${id}-description-error`} issues={fieldErrors('description')} kind="error" />
          </div>

          <div className="modes">
            <ModeControl
              legend="Network"
              description="Outbound traffic: TCP, TLS, HTTP(S), fetch, WebSocket, UDP and DNS."
              value={form.network}
              onChange={(mode) => update('network', mode)}
              error={fieldErrors('network')[0]?.message}
            />
            <ModeControl
              legend="Filesystem"
              description="Reads and writes under /tmp and the application directory."
              value={form.filesystem}
              onChange={(mode) => update('filesystem', mode)}
              error={fieldErrors('filesystem')[0]?.message}
            />
            <ModeControl
              legend="Process"
              description="Child processes, native addons and workers outside the agent's reach."
              value={form.process}
              onChange={(mode) => update('process', mode)}
              error={fieldErrors('process')[0]?.message}
            />
          </div>

          <div className="toggles">
            <div className="toggle">
              <input
                id={`${id}-terminate`}
                type="checkbox"
                checked={form.terminateOnDeny}
                onChange={(event) => update('terminateOnDeny', event.target.checked)}
                aria-describedby={`${id}-terminate-hint`}
              />
              <div>
                <label htmlFor={`${id}-terminate`}>Terminate on deny</label>
                <p className="field-hint" id={`${id}-terminate-hint`}>
                  After a deny event is recorded, the process exits (non-zero) before the operation happens.
                </p>
              </div>
            </div>
            <div className={`toggle${cloudAllowed ? '' : ' locked'}`}>
              <input
                id={`${id}-cloud`}
                type="checkbox"
                checked={cloudAllowed && form.allowCloudProviderTraffic}
                disabled={!cloudAllowed}
                onChange={(event) => update('allowCloudProviderTraffic', event.target.checked)}
                aria-describedby={`${id}-cloud-hint`}
              />
              <div>
                <label htmlFor={`${id}-cloud`}>
                  Allow cloud provider traffic{' '}
                  {!cloudAllowed && <span className="paid-badge">Paid plan</span>}
                </label>
                <p className="field-hint" id={`${id}-cloud-hint`}>
                  With network set to deny, traffic to the service endpoints of the cloud the function runs on
                  (for AWS: S3, DynamoDB, SQS…) is allowed.
                  {!cloudAllowed &&
                    ` Not included in the ${session.me.plan.name} plan: upgrade to enable it.`}
                  {cloudAllowed &&
                    form.network !== 'deny' &&
                    ' Only takes effect while network is set to deny.'}
                </p>
                <IssueList
                  id={`${id}-cloud-error`}
                  issues={fieldErrors('allowCloudProviderTraffic')}
                  kind="error"
                />
              </div>
            </div>
          </div>

          <div className="field">
            <label htmlFor={`${id}-domains`}>Allowed domains</label>
            <textarea
              id={`${id}-domains`}
              className="mono"
              rows={4}
              spellCheck={false}
              placeholder={'stripe\n*.example.com\nlambda.*'}
              value={form.allowedDomains}
              onChange={(event) => update('allowedDomains', event.target.value)}
              aria-invalid={fieldErrors('allowedDomains').length > 0 || undefined}
              aria-describedby={describedBy('allowedDomains')}
            />
            <p className="field-hint" id={`${id}-allowedDomains-hint`}>
              One a line (or comma-separated). <code>stripe</code> matches names <em>containing</em> it;{' '}
              <code>*.stripe.com</code> names <em>ending with</em> <code>.stripe.com</code>;{' '}
              <code>lambda.*</code> names <em>starting with</em> <code>lambda.</code>;{' '}
              <code>.stripe.com</code> the domain and its subdomains (the safest). Granted even when network
              is deny; their resolved IP addresses are allowed too.
            </p>
            <IssueList
              id={`${id}-allowedDomains-error`}
              issues={fieldErrors('allowedDomains')}
              kind="error"
              entries={domainEntries}
            />
            <IssueList
              id={`${id}-allowedDomains-warning`}
              issues={fieldWarnings('allowedDomains')}
              kind="warning"
              entries={domainEntries}
            />
            {domainEntries.length > 0 && (
              <ul className="entry-chips" aria-label="How each entry matches">
                {domainEntries.map((entry, index) =>
                  fieldErrors('allowedDomains').some((issue) => issue.index === index) ? null : (
                    // biome-ignore lint/suspicious/noArrayIndexKey: entries may repeat while typing
                    <li key={index}>
                      <code>{entry}</code> <span className="muted">{describeDomainEntry(entry)}</span>
                    </li>
                  ),
                )}
              </ul>
            )}
            {domainEntries.length > 0 && (
              <div className="probe">
                <label htmlFor={`${id}-probe`}>Try a host name</label>
                <input
                  id={`${id}-probe`}
                  className="mono"
                  value={probeHost}
                  placeholder="api.stripe.com"
                  spellCheck={false}
                  onChange={(event) => setProbeHost(event.target.value)}
                />
                {probe && (
                  <p className={probeMatches.length ? 'probe-yes' : 'probe-no'} role="status">
                    {probeMatches.length
                      ? `Allowed by ${probeMatches.map((entry) => `“${entry}”`).join(', ')}`
                      : `Not allowed by any entry: ${form.network === 'deny' ? 'denied' : form.network === 'observe' ? 'observed' : 'granted'} by the network mode`}
                  </p>
                )}
              </div>
            )}
          </div>

          <div className="two-columns">
            {lineListField({
              field: 'allowedPaths',
              inputId: `${id}-paths`,
              label: 'Allowed paths',
              placeholder: '/tmp/cache/',
              hint: 'Absolute path prefixes, one a line, granted whatever the filesystem mode.',
            })}
            {lineListField({
              field: 'allowedCommands',
              inputId: `${id}-commands`,
              label: 'Allowed commands',
              placeholder: '/usr/bin/git',
              hint: 'Executables, one a line: an absolute path matches exactly, a bare name any path ending in it.',
            })}
          </div>
        </fieldset>
        <ErrorAlert message={unplacedServerError} />
        {!readOnly && (
          <div className="editor-actions">
            <button type="submit" className="button primary" disabled={saving}>
              {saving ? 'Saving…' : creating ? 'Create policy group' : 'Save changes'}
            </button>
            {liveErrors.length > 0 && (
              <span className="field-error inline" role="status">
                Fix {liveErrors.length === 1 ? 'the error' : `${liveErrors.length} errors`} above to save.
              </span>
            )}
            {savedAt && (
              <span className="saved" role="status">
                Saved. Functions pick it up at their next start.
              </span>
            )}
            {!creating && (
              <button type="button" className="button danger ghost push-right" onClick={() => void remove()}>
                Delete
              </button>
            )}
          </div>
        )}
      </form>
    </div>
  );
}

function safeMatch(entry: string, host: string): boolean {
  try {
    return matchDomain(entry, host);
  } catch {
    return false;
  }
}
