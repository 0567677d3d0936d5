import type {
  ApiErrorBody,
  ApiErrorDetail,
  ApiTokenInfo,
  AppDefenderEvent,
  EventPage,
  FunctionRecord,
  LicenseKeyInfo,
  Me,
  PolicyGroup,
  SignupResult,
  StoredPolicyGroup,
  TemporaryKey,
} from './types.js';

/** An error answered by the control plane, with its stable code and per-field details. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: ApiErrorDetail[];

  constructor(options: { status: number; code: string; message: string; details?: ApiErrorDetail[] }) {
    super(options.message);
    this.name = 'ApiError';
    this.status = options.status;
    this.code = options.code;
    this.details = options.details ?? [];
  }
}

/** What to show for a failed call: the server's message for an API error, else the failure as text. */
export function messageOf(cause: unknown): string {
  return cause instanceof ApiError ? cause.message : String(cause);
}

const API = '/api/v1';

/** Dispatched on `window` when the control plane answers 401 to a signed-in call. */
export const UNAUTHORIZED_EVENT = 'appdefender:unauthorized';

function isErrorBody(value: unknown): value is ApiErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const error = (value as { error?: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
  }
  let response: Response;
  try {
    response = await fetch(API + path, init);
  } catch {
    throw new ApiError({
      status: 0,
      code: 'NETWORK',
      message: 'The control plane cannot be reached.',
      details: [],
    });
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!response.ok) {
    // An expired session anywhere sends the user back to sign-in (the app listens for this).
    if (response.status === 401 && !path.startsWith('/login') && !path.startsWith('/signup')) {
      window.dispatchEvent(new Event(UNAUTHORIZED_EVENT));
    }
    if (isErrorBody(parsed)) {
      throw new ApiError({ status: response.status, ...parsed.error });
    }
    throw new ApiError({
      status: response.status,
      code: `HTTP_${response.status}`,
      message: `The control plane answered ${response.status} ${response.statusText}.`,
    });
  }
  return parsed as T;
}

function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export interface EventQuery {
  category?: string;
  action?: string;
  function?: string;
  policyGroup?: string;
  q?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

/** GET /api/v1/events/stats: counts over a range, per action, category, function and time bucket. */
export interface EventStats {
  since: string;
  until: string;
  bucketMs: number;
  total: number;
  byCategory: Partial<Record<'network' | 'filesystem' | 'process', number>>;
  byAction: Partial<Record<'observe' | 'deny', number>>;
  byFunction: { function: string | null; total: number; observe: number; deny: number }[];
  timeline: { start: string; total: number; observe: number; deny: number }[];
}

export const api = {
  me: () => request<Me>('GET', '/me'),
  signup: (email: string, password: string) => request<SignupResult>('POST', '/signup', { email, password }),
  login: (email: string, password: string) =>
    request<{ account: Me['account'] }>('POST', '/login', { email, password }),
  logout: () => request<unknown>('POST', '/logout', {}),
  temporaryKey: () => request<TemporaryKey>('POST', '/temporary-keys', {}),
  policyGroups: () => request<{ policyGroups: StoredPolicyGroup[] }>('GET', '/policy-groups'),
  policyGroup: (name: string) =>
    request<{ policyGroup: StoredPolicyGroup } | StoredPolicyGroup>(
      'GET',
      `/policy-groups/${encodeURIComponent(name)}`,
    ),
  createPolicyGroup: (group: PolicyGroup) =>
    request<{ policyGroup: StoredPolicyGroup }>('POST', '/policy-groups', group),
  updatePolicyGroup: (name: string, group: PolicyGroup) =>
    request<{ policyGroup: StoredPolicyGroup }>('PUT', `/policy-groups/${encodeURIComponent(name)}`, group),
  deletePolicyGroup: (name: string) =>
    request<unknown>('DELETE', `/policy-groups/${encodeURIComponent(name)}`),
  functions: () => request<{ functions: FunctionRecord[] }>('GET', '/functions'),
  events: (params: EventQuery) => request<EventPage>('GET', `/events${query({ ...params })}`),
  event: (id: string) => request<{ event: AppDefenderEvent }>('GET', `/events/${encodeURIComponent(id)}`),
  eventStats: (params: Omit<EventQuery, 'limit' | 'cursor'> & { bucket?: string }) =>
    request<EventStats>('GET', `/events/stats${query({ ...params })}`),
  licenseKeys: () => request<{ licenseKeys: LicenseKeyInfo[] }>('GET', '/license-keys'),
  createLicenseKey: (label: string) =>
    request<{ licenseKey: string; key: LicenseKeyInfo }>('POST', '/license-keys', label ? { label } : {}),
  revokeLicenseKey: (id: string) => request<unknown>('DELETE', `/license-keys/${encodeURIComponent(id)}`),
  apiTokens: () => request<{ apiTokens: ApiTokenInfo[] }>('GET', '/api-tokens'),
  createApiToken: (name: string) =>
    request<{ apiToken: string; token: ApiTokenInfo }>('POST', '/api-tokens', name ? { name } : {}),
  revokeApiToken: (id: string) => request<unknown>('DELETE', `/api-tokens/${encodeURIComponent(id)}`),
};

/** The URL of the live stream; the browser's EventSource resends Last-Event-ID on reconnect. */
export function eventStreamUrl(params: { lastEventId?: string }): string {
  return `${API}/events/stream${query({ lastEventId: params.lastEventId })}`;
}
