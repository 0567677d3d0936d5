import { useState } from 'react';
import { api, messageOf } from '../api/client.js';
import type { TemporaryKey } from '../api/types.js';
import { Logo } from '../components/app-shell.js';
import { CopyButton } from '../components/copy-button.js';
import { ErrorAlert } from '../components/error-alert.js';
import { Link } from '../components/link.js';
import { ObserveAllExplainer } from '../components/observe-all-explainer.js';
import { SetupInstructions } from '../components/setup-instructions.js';
import { formatDateTime } from '../lib/format.js';

/** First run without an account: a temporary key, limited to the public observeAll.ability group. */
export function TemporaryKeyPage({ signedIn }: { signedIn: boolean }) {
  const [key, setKey] = useState<TemporaryKey | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function create() {
    setBusy(true);
    setError(null);
    try {
      setKey(await api.temporaryKey());
    } catch (cause) {
      setError(messageOf(cause));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="first-run" id="main">
      <header className="first-run-header">
        <Link href={signedIn ? '/events' : '/login'} className="brand">
          <Logo />
          <span>AppDefender</span>
        </Link>
        {!signedIn && (
          <Link href="/signup" className="button small">
            Create a free account
          </Link>
        )}
      </header>
      <h1>Try AppDefender with a temporary key</h1>
      <p className="lead">
        A temporary license key needs no account. Functions using it run with the public{' '}
        <code>observeAll.ability</code> policy group and write their events to the function's log.
      </p>
      <ObserveAllExplainer />
      {!key ? (
        <div className="panel">
          <button type="button" className="button primary" onClick={() => void create()} disabled={busy}>
            {busy ? 'Creating…' : 'Get a temporary key'}
          </button>
          <ErrorAlert message={error} />
        </div>
      ) : (
        <>
          <section className="panel" aria-labelledby="temp-key-heading">
            <h2 id="temp-key-heading">Your temporary license key</h2>
            <div className="secret">
              <code data-testid="temporary-key">{key.licenseKey}</code>
              <CopyButton text={key.licenseKey} />
            </div>
            <p className="muted">
              Valid until {formatDateTime(key.expiresAt)}. Only for the <code>{key.policyGroup}</code> policy
              group. Save it now: it is not shown again.
            </p>
          </section>
          <section className="panel" aria-labelledby="temp-setup-heading">
            <h2 id="temp-setup-heading">Protect a function</h2>
            <SetupInstructions
              licenseKey={key.licenseKey}
              policyGroup={key.policyGroup}
              apiUrl={window.location.origin}
              eventsInDashboard={false}
            />
          </section>
          <p className="muted">
            Want to see events here, deny what should not happen and write your own policy groups?{' '}
            <Link href="/signup">Create a free account</Link>.
          </p>
        </>
      )}
    </main>
  );
}
