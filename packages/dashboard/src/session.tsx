import { createContext, useContext } from 'react';
import type { Me } from './api/types.js';

export interface Session {
  me: Me;
  /** The license key returned at sign-up: the server keeps only its hash, so it is shown once. */
  freshLicenseKey: string | null;
  /** The api token returned at sign-up (for the `appdefender` CLI), also shown once. */
  freshApiToken: string | null;
  refresh: () => Promise<void>;
  logout: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession is used outside a signed-in page.');
  return session;
}

/** Whether the account's plan includes a paid feature (e.g. allowCloudProviderTraffic). */
export function hasFeature(session: Session, feature: string): boolean {
  const features = session.me.plan.features;
  return Array.isArray(features) ? features.includes(feature) : features[feature] === true;
}
