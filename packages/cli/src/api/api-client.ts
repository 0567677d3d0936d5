import {
  AuthError,
  CliError,
  ExitCode,
  type FieldProblem,
  NotFoundError,
  UnreachableError,
  UsageError,
  ValidationError,
} from '../errors.js';

export interface ApiClientOptions {
  baseUrl: string;
  token?: string | undefined;
  fetch: typeof fetch;
}

interface ErrorBody {
  error?: { code?: string; message?: string; details?: FieldProblem[] };
}

/** Checks a URL given by the user before anything is sent to it. */
export function parseBaseUrl(value: string, from: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${from} is not a URL: "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${from} must be an http(s) URL: "${value}"`);
  }
  return url;
}

/** A small JSON client for the control plane API (contract §5), mapping failures to exit codes. */
export class ApiClient {
  readonly baseUrl: URL;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: ApiClientOptions) {
    this.baseUrl = parseBaseUrl(options.baseUrl, 'The control plane URL');
    this.#token = options.token;
    this.#fetch = options.fetch;
  }

  url(path: string): URL {
    // Keep a path prefix in the base URL (a control plane behind /appdefender/ on a proxy).
    const base = this.baseUrl.href.endsWith('/') ? this.baseUrl.href : `${this.baseUrl.href}/`;
    return new URL(path.replace(/^\//, ''), base);
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return {
      accept: 'application/json',
      ...(this.#token ? { authorization: `Bearer ${this.#token}` } : {}),
      ...extra,
    };
  }

  /** Sends a request; resolves with the parsed JSON body, or throws a CliError saying what went wrong. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.send(method, path, body);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    if (!response.ok) throw this.#errorFor(method, path, response.status, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(
        'BAD_RESPONSE',
        ExitCode.failure,
        `${method} ${path}: the control plane sent no JSON: ${text.slice(0, 200)}`,
      );
    }
  }

  /** The raw response (for streams); network failures become UnreachableError. */
  async send(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<Response> {
    const url = this.url(path);
    try {
      return await this.#fetch(url, {
        method,
        ...init,
        headers: {
          ...this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...((init.headers as Record<string, string> | undefined) ?? {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new UnreachableError(
        `Cannot reach the control plane at ${this.baseUrl.origin} (${cause?.code ?? cause?.message ?? (error as Error).message})`,
        {
          cause: error,
          hint: 'Check --api-url / ES_API_URL and that the server is running (`appdefender server`)',
        },
      );
    }
  }

  #errorFor(method: string, path: string, status: number, text: string): CliError {
    let body: ErrorBody = {};
    try {
      body = JSON.parse(text) as ErrorBody;
    } catch {
      // not JSON: the status and raw text are all we have
    }
    const message = body.error?.message ?? (text.slice(0, 200) || `HTTP ${status}`);
    const what = `${method} ${path}`;
    if (status === 401 || status === 403) {
      return new AuthError(`The control plane refused the request (${status}): ${message}`, {
        hint: this.#token
          ? 'Check the api token (--api-token / ES_API_TOKEN)'
          : 'Pass an api token with --api-token or ES_API_TOKEN (it is shown when you sign up)',
      });
    }
    if (status === 404) return new NotFoundError(`${what}: ${message}`);
    const details = Array.isArray(body.error?.details) ? body.error.details : [];
    if (status === 400 || status === 422) return new ValidationError(`${what}: ${message}`, details);
    return new CliError(
      body.error?.code ?? 'API_ERROR',
      ExitCode.failure,
      `${what} failed (${status}): ${message}`,
      {
        details,
      },
    );
  }
}
