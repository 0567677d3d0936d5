import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, api, UNAUTHORIZED_EVENT } from './api/client.js';
import type { Me } from './api/types.js';
import { AppShell } from './components/app-shell.js';
import { navigate, useLocation } from './lib/router.js';
import { AuthPage } from './pages/auth-page.js';
import { EventsPage } from './pages/events-page.js';
import { FunctionPage } from './pages/function-page.js';
import { FunctionsPage } from './pages/functions-page.js';
import { KeysPage } from './pages/keys-page.js';
import { NotFoundPage } from './pages/not-found-page.js';
import { PolicyGroupEditorPage } from './pages/policy-group-editor-page.js';
import { PolicyGroupsPage } from './pages/policy-groups-page.js';
import { SetupPage } from './pages/setup-page.js';
import { TemporaryKeyPage } from './pages/temporary-key-page.js';
import { type Session, SessionContext } from './session.js';

type SessionState =
  | { status: 'loading' }
  | { status: 'anonymous' }
  | { status: 'signed-in'; me: Me }
  | { status: 'error'; message: string };

const PUBLIC_PATHS = new Set(['/login', '/signup', '/try']);

// The session cookie is httpOnly, so the page cannot see it. This marker remembers that this
// browser signed in, so a first visit shows the sign-in page without a request that must fail.
const SIGNED_IN_MARKER = 'appdefender.signedIn';

function markSignedIn(signedIn: boolean): void {
  try {
    if (signedIn) localStorage.setItem(SIGNED_IN_MARKER, '1');
    else localStorage.removeItem(SIGNED_IN_MARKER);
  } catch {
    // Storage may be disabled; the app then simply asks the server each time.
  }
}

function maybeSignedIn(): boolean {
  try {
    return localStorage.getItem(SIGNED_IN_MARKER) !== null;
  } catch {
    return true;
  }
}

export function App() {
  const location = useLocation();
  const [state, setState] = useState<SessionState>({ status: 'loading' });
  const [freshLicenseKey, setFreshLicenseKey] = useState<string | null>(null);
  const [freshApiToken, setFreshApiToken] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    if (!maybeSignedIn()) {
      setState({ status: 'anonymous' });
      return;
    }
    try {
      const me = await api.me();
      setState({ status: 'signed-in', me });
    } catch (cause) {
      if (cause instanceof ApiError && (cause.status === 401 || cause.status === 403)) {
        markSignedIn(false);
        setState({ status: 'anonymous' });
      } else {
        setState({ status: 'error', message: cause instanceof Error ? cause.message : String(cause) });
      }
    }
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  useEffect(() => {
    const onUnauthorized = () => {
      markSignedIn(false);
      setFreshLicenseKey(null);
      setFreshApiToken(null);
      setState({ status: 'anonymous' });
    };
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, []);

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      markSignedIn(false);
      setFreshLicenseKey(null);
      setFreshApiToken(null);
      setState({ status: 'anonymous' });
      navigate('/login');
    }
  }, []);

  const onSignedIn = useCallback(
    async (result: { licenseKey?: string; apiToken?: string }) => {
      if (result.licenseKey) setFreshLicenseKey(result.licenseKey);
      if (result.apiToken) setFreshApiToken(result.apiToken);
      markSignedIn(true);
      await refresh();
      navigate(result.licenseKey ? '/setup' : '/');
    },
    [refresh],
  );

  const session = useMemo<Session | null>(
    () =>
      state.status === 'signed-in' ? { me: state.me, freshLicenseKey, freshApiToken, refresh, logout } : null,
    [state, freshLicenseKey, freshApiToken, refresh, logout],
  );

  useEffect(() => {
    const title = pageTitle(location.path);
    document.title = title ? `${title} · AppDefender` : 'AppDefender';
  }, [location.path]);

  if (state.status === 'loading') {
    return (
      <div className="splash" aria-busy="true">
        Loading AppDefender…
      </div>
    );
  }
  if (state.status === 'error') {
    return (
      <div className="splash" role="alert">
        <p>{state.message}</p>
        <button type="button" className="button" onClick={() => void refresh()}>
          Try again
        </button>
      </div>
    );
  }
  if (location.path === '/try') return <TemporaryKeyPage signedIn={session !== null} />;
  if (!session) {
    return <AuthPage mode={location.path === '/signup' ? 'signup' : 'login'} onSignedIn={onSignedIn} />;
  }
  if (PUBLIC_PATHS.has(location.path)) return <Redirect to="/" />;
  return (
    <SessionContext.Provider value={session}>
      <AppShell>{route(location.path)}</AppShell>
    </SessionContext.Provider>
  );
}

/** Navigates after render: changing the location while rendering would update another component. */
function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, { replace: true }), [to]);
  return null;
}

function route(path: string) {
  if (path === '/' || path === '/events') return <EventsPage />;
  if (path === '/functions') return <FunctionsPage />;
  if (path.startsWith('/functions/')) return <FunctionPage name={decodeURIComponent(path.slice(11))} />;
  if (path === '/policy-groups') return <PolicyGroupsPage />;
  if (path === '/policy-groups/new') return <PolicyGroupEditorPage name={null} />;
  if (path.startsWith('/policy-groups/'))
    return <PolicyGroupEditorPage name={decodeURIComponent(path.slice(15))} />;
  if (path === '/setup') return <SetupPage />;
  if (path === '/keys') return <KeysPage />;
  return <NotFoundPage />;
}

function pageTitle(path: string): string {
  if (path === '/' || path === '/events') return 'Events';
  if (path.startsWith('/functions')) return 'Functions';
  if (path.startsWith('/policy-groups')) return 'Policy groups';
  if (path === '/setup') return 'Set up';
  if (path === '/keys') return 'Keys';
  if (path === '/login') return 'Sign in';
  if (path === '/signup') return 'Create account';
  if (path === '/try') return 'Temporary key';
  return '';
}
