import { useEffect, useId, useState } from 'react';
import { api } from '../api/client.js';
import type { StoredPolicyGroup } from '../api/types.js';
import { CopyButton } from '../components/copy-button.js';
import { Link } from '../components/link.js';
import { ObserveAllExplainer } from '../components/observe-all-explainer.js';
import { SetupInstructions } from '../components/setup-instructions.js';
import { useSession } from '../session.js';

const OBSERVE_ALL = 'observeAll.ability';

export function SetupPage() {
  const session = useSession();
  const [groups, setGroups] = useState<StoredPolicyGroup[]>([]);
  const [policyGroup, setPolicyGroup] = useState(OBSERVE_ALL);
  const selectId = useId();

  useEffect(() => {
    api
      .policyGroups()
      .then((result) => setGroups(result.policyGroups))
      .catch(() => setGroups([]));
  }, []);

  const names = [...new Set([OBSERVE_ALL, ...groups.map((group) => group.name)])];
  const licenseKey = session.freshLicenseKey;
  return (
    <div className="page narrow">
      <header className="page-header">
        <div>
          <h1>Set up a function</h1>
          <p className="muted">Add one layer and three environment variables. No code change.</p>
        </div>
      </header>
      <section className="panel" aria-labelledby="license-heading">
        <h2 id="license-heading">License key</h2>
        {licenseKey ? (
          <>
            <div className="secret">
              <code data-testid="license-key">{licenseKey}</code>
              <CopyButton text={licenseKey} />
            </div>
            <p className="warning-note" role="note">
              Copy it now and keep it like a password: AppDefender stores only its hash, so this is the only
              time it is shown. More keys, and revoking them: the <Link href="/keys">Keys</Link> page.
            </p>
          </>
        ) : (
          <p className="muted">
            Your license key was shown once, when you created the account; AppDefender keeps only its hash.
            Use the key you saved then, or create another on the <Link href="/keys">Keys</Link> page. The
            snippets below show <code>YOUR_LICENSE_KEY</code> in its place.
          </p>
        )}
      </section>
      {session.freshApiToken && (
        <section className="panel" aria-labelledby="api-token-heading">
          <h2 id="api-token-heading">API token for the command line</h2>
          <div className="secret">
            <code data-testid="api-token">{session.freshApiToken}</code>
            <CopyButton text={session.freshApiToken} />
          </div>
          <p className="muted">
            For the <code>appdefender</code> CLI and scripts (<code>ES_API_TOKEN</code>, or{' '}
            <code>Authorization: Bearer</code>): it reads and manages this account. Also shown only once.
          </p>
        </section>
      )}
      <section className="panel" aria-labelledby="snippets-heading">
        <div className="panel-header">
          <h2 id="snippets-heading">Configuration</h2>
          <div className="field inline">
            <label htmlFor={selectId}>Policy group</label>
            <select
              id={selectId}
              value={policyGroup}
              onChange={(event) => setPolicyGroup(event.target.value)}
            >
              {names.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </div>
        </div>
        <SetupInstructions
          licenseKey={licenseKey}
          policyGroup={policyGroup}
          apiUrl={window.location.origin}
          eventsInDashboard={true}
        />
      </section>
      {policyGroup === OBSERVE_ALL && <ObserveAllExplainer />}
    </div>
  );
}
