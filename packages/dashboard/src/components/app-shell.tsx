import { type ReactNode, useEffect, useRef } from 'react';
import { capitalize } from '../lib/format.js';
import { useLocation } from '../lib/router.js';
import { useSession } from '../session.js';
import { Link } from './link.js';

const NAV = [
  { href: '/events', label: 'Events', match: (path: string) => path === '/' || path.startsWith('/events') },
  { href: '/functions', label: 'Functions', match: (path: string) => path.startsWith('/functions') },
  {
    href: '/policy-groups',
    label: 'Policy groups',
    match: (path: string) => path.startsWith('/policy-groups'),
  },
  { href: '/setup', label: 'Set up', match: (path: string) => path === '/setup' },
  { href: '/keys', label: 'Keys', match: (path: string) => path === '/keys' },
];

export function Logo() {
  return (
    <svg className="logo" viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
      <path d="M16 2 4 7v8c0 7.5 5.1 13.3 12 15 6.9-1.7 12-7.5 12-15V7z" fill="currentColor" />
      <path d="m11 16 4 4 7-8" stroke="var(--logo-check)" strokeWidth="3" fill="none" />
    </svg>
  );
}

export function AppShell({ children }: { children: ReactNode }) {
  const session = useSession();
  const { path } = useLocation();
  // After in-app navigation, move focus to the new page (as a page load would), so keyboard and
  // screen-reader users start at its content rather than on the link they left.
  const firstPath = useRef(path);
  useEffect(() => {
    if (path === firstPath.current) return;
    firstPath.current = '';
    document.getElementById('main')?.focus({ preventScroll: false });
    window.scrollTo(0, 0);
  }, [path]);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/events" className="brand">
          <Logo />
          <span>AppDefender</span>
        </Link>
        <nav aria-label="Main" className="nav">
          {NAV.map((item) => (
            <Link
              key={item.href}
              href={item.href}
              className="nav-link"
              aria-current={item.match(path) ? 'page' : undefined}
            >
              {item.label}
            </Link>
          ))}
        </nav>
        <div className="account">
          <span className="account-email" title={session.me.account.email}>
            {session.me.account.email}
          </span>
          <span className={`plan-badge plan-${session.me.plan.name}`}>
            {capitalize(session.me.plan.name)} plan
          </span>
          <button type="button" className="button ghost small" onClick={() => void session.logout()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" className="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
