import { type FormEvent, useId, useState } from 'react';
import { ApiError, api } from '../api/client.js';
import { Logo } from '../components/app-shell.js';
import { Link } from '../components/link.js';

export interface AuthPageProps {
  mode: 'login' | 'signup';
  onSignedIn: (result: { licenseKey?: string; apiToken?: string }) => Promise<void>;
}

export function AuthPage({ mode, onSignedIn }: AuthPageProps) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const emailId = useId();
  const passwordId = useId();
  const errorId = useId();
  const signup = mode === 'signup';

  const fieldError = (field: string) => error?.details.find((detail) => detail.field === field)?.message;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (signup) {
        const result = await api.signup(email, password);
        await onSignedIn({ licenseKey: result.licenseKey, apiToken: result.apiToken });
      } else {
        await api.login(email, password);
        await onSignedIn({});
      }
    } catch (cause) {
      setError(
        cause instanceof ApiError
          ? cause
          : new ApiError({ status: 0, code: 'UNKNOWN', message: String(cause) }),
      );
    } finally {
      setBusy(false);
    }
  }

  const emailError = fieldError('email');
  const passwordError = fieldError('password');
  return (
    <main className="auth">
      <div className="auth-card">
        <div className="auth-brand">
          <Logo />
          <span>AppDefender</span>
        </div>
        <h1>{signup ? 'Create your free account' : 'Sign in'}</h1>
        <p className="muted">
          {signup
            ? 'See every function AppDefender protects, every event in real time, and write your own policy groups.'
            : 'Runtime protection for your serverless functions.'}
        </p>
        <form onSubmit={submit} noValidate aria-describedby={error ? errorId : undefined}>
          <div className="field">
            <label htmlFor={emailId}>Email</label>
            <input
              id={emailId}
              type="email"
              autoComplete="email"
              required
              value={email}
              onChange={(event) => setEmail(event.target.value)}
              aria-invalid={emailError ? true : undefined}
              aria-describedby={emailError ? `${emailId}-error` : undefined}
            />
            {emailError && (
              <p className="field-error" id={`${emailId}-error`}>
                {emailError}
              </p>
            )}
          </div>
          <div className="field">
            <label htmlFor={passwordId}>Password</label>
            <input
              id={passwordId}
              type="password"
              autoComplete={signup ? 'new-password' : 'current-password'}
              required
              minLength={signup ? 8 : undefined}
              value={password}
              onChange={(event) => setPassword(event.target.value)}
              aria-invalid={passwordError ? true : undefined}
              aria-describedby={
                passwordError ? `${passwordId}-error` : signup ? `${passwordId}-hint` : undefined
              }
            />
            {signup && !passwordError && (
              <p className="field-hint" id={`${passwordId}-hint`}>
                At least 8 characters.
              </p>
            )}
            {passwordError && (
              <p className="field-error" id={`${passwordId}-error`}>
                {passwordError}
              </p>
            )}
          </div>
          {error && !emailError && !passwordError && (
            <p className="form-error" role="alert" id={errorId}>
              {error.message}
            </p>
          )}
          <button type="submit" className="button primary wide" disabled={busy}>
            {busy ? 'Please wait…' : signup ? 'Create account' : 'Sign in'}
          </button>
        </form>
        <p className="auth-switch">
          {signup ? (
            <>
              Already have an account? <Link href="/login">Sign in</Link>
            </>
          ) : (
            <>
              New to AppDefender? <Link href="/signup">Create a free account</Link>
            </>
          )}
        </p>
        <div className="auth-try">
          <p>
            <strong>Just trying it out?</strong> Get a temporary license key, no account needed. Your
            functions run with the public <code>observeAll.ability</code> policy group.
          </p>
          <Link href="/try" className="button ghost wide">
            Get a temporary key
          </Link>
        </div>
      </div>
    </main>
  );
}
