// One typed client for both services behind the one origin. Every call carries the in-memory
// access token; a 401 refreshes it once (the refresh cookie) and retries. Failures become
// ApiError with the server's words, so a form can show exactly why it was refused.
import type { Session } from '../auth/session';
import { newTraceId, traceparent } from './trace';
import type {
  Account,
  AuditEvent,
  Bar,
  Deal,
  NewOrder,
  Quote,
  Role,
  ScopeInfo,
  ServiceClient,
  SessionInfo,
  SigningKey,
  SymbolSpec,
  Trade,
  User,
} from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** The call's W3C trace id: what an operator looks for in the services' logs. */
    readonly traceId?: string,
  ) {
    super(message);
  }
}

type Body = Record<string, unknown>;

export interface RequestOptions {
  method?: string;
  body?: Body;
  headers?: Record<string, string>;
}

/** The server's error body in words: "Volume 0.001 is below the minimum (field volume)." */
export async function toApiError(res: Response, traceId?: string): Promise<ApiError> {
  let code = 'http_' + res.status;
  let message = res.statusText || 'The request failed.';
  let field: string | undefined;
  try {
    const body = (await res.json()) as { error?: string; error_description?: string; field?: string };
    code = body.error ?? code;
    message = body.error_description ?? message;
    field = body.field;
  } catch {
    // not JSON: keep the status text
  }
  if (res.status === 429) {
    const after = res.headers.get('Retry-After');
    if (after) message += ` Retry in ${after} s.`;
  }
  return new ApiError(res.status, code, message, field, traceId);
}

export class Api {
  constructor(
    private readonly session: Session,
    private readonly fetcher: typeof fetch = (...args) => fetch(...args),
  ) {}

  async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    // One trace per call: the retry after a refresh is a second span of the same trace.
    const traceId = newTraceId();
    let res = await this.send(path, options, traceId);
    if (res.status === 401 && (await this.session.refresh())) res = await this.send(path, options, traceId);
    if (!res.ok) throw await toApiError(res, traceId);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  private send(path: string, { method = 'GET', body, headers = {} }: RequestOptions, traceId: string) {
    const all: Record<string, string> = { Accept: 'application/json', traceparent: traceparent(traceId), ...headers };
    const token = this.session.token?.token;
    if (token) all.Authorization = `Bearer ${token}`;
    if (body) all['Content-Type'] = 'application/json';
    return this.fetcher(path, {
      method,
      headers: all,
      body: body ? JSON.stringify(body) : undefined,
      credentials: 'same-origin',
    });
  }

  // ---- trading (mt5-api) ----
  account = () => this.request<Account>('/api/v1/account');
  trades = (status: 'open' | 'closed' | 'all' = 'open', limit = 200) =>
    this.request<Trade[]>(`/api/v1/trades?status=${status}&limit=${limit}`);
  /** `idempotencyKey`: one per submission, so a retried or doubled click opens one trade. */
  openTrade = (order: NewOrder, idempotencyKey: string) =>
    this.request<Trade>('/api/v1/trades', {
      method: 'POST',
      body: { ...order },
      headers: { 'Idempotency-Key': idempotencyKey },
    });
  modifyTrade = (id: number, stops: { stop_loss: number | null; take_profit: number | null }) =>
    this.request<Trade>(`/api/v1/trades/${id}`, { method: 'PATCH', body: stops });
  closeTrade = (id: number) =>
    this.request<{ message: string; trade_id: number }>(`/api/v1/trades/${id}`, { method: 'DELETE' });
  symbols = () => this.request<SymbolSpec[] | { symbols: SymbolSpec[] }>('/api/v1/symbols');
  quote = (symbol: string) => this.request<Quote>(`/api/v1/market/${encodeURIComponent(symbol)}`);
  rates = (symbol: string, timeframe: string, count: number) =>
    this.request<Bar[] | { rates: Bar[] }>(
      `/api/v1/market/${encodeURIComponent(symbol)}/rates?timeframe=${timeframe}&count=${count}`,
    );
  /** The first 10,000 deals of the window, oldest first (the API's largest page). */
  deals = (from?: string, to?: string) => {
    const q = new URLSearchParams({ limit: '10000' });
    if (from) q.set('from', from);
    if (to) q.set('to', to);
    return this.request<Deal[] | { deals: Deal[] }>(`/api/v1/history/deals?${q.toString()}`);
  };

  // ---- the signed-in person (permiso-auth) ----
  me = () => this.request<User>('/api/v1/users/me');
  sessions = () => this.request<{ sessions: SessionInfo[] }>('/api/v1/sessions');
  endSession = (id: string) => this.request<unknown>(`/api/v1/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });

  // ---- administration (permiso-auth) ----
  clients = (page = 1) =>
    this.request<{ clients: ServiceClient[]; total: number; pages: number }>(
      `/api/v1/service-clients?page=${page}&per_page=100`,
    );
  createClient = (body: Body) =>
    this.request<{ client: ServiceClient; client_secret: string }>('/api/v1/service-clients', { method: 'POST', body });
  updateClient = (id: string, body: Body) =>
    this.request<ServiceClient>(`/api/v1/service-clients/${encodeURIComponent(id)}`, { method: 'PUT', body });
  rotateSecret = (id: string, graceSeconds: number) =>
    this.request<{ client: ServiceClient; client_secret: string }>(
      `/api/v1/service-clients/${encodeURIComponent(id)}/rotate-secret`,
      { method: 'POST', body: { grace_period_seconds: graceSeconds } },
    );
  deleteClient = (id: string) =>
    this.request<unknown>(`/api/v1/service-clients/${encodeURIComponent(id)}`, { method: 'DELETE' });
  users = (search: string, page = 1) =>
    this.request<{ users: User[]; total: number; pages: number }>(
      `/api/v1/users?page=${page}&per_page=50&search=${encodeURIComponent(search)}`,
    );
  createUser = (body: Body) => this.request<User>('/api/v1/users', { method: 'POST', body });
  updateUser = (id: number, body: Body) => this.request<User>(`/api/v1/users/${id}`, { method: 'PUT', body });
  setUserRoles = (id: number, roleIds: number[]) =>
    this.request<User>(`/api/v1/users/${id}/roles`, { method: 'PUT', body: { role_ids: roleIds } });
  userSessions = (id: number) => this.request<{ sessions: SessionInfo[] }>(`/api/v1/users/${id}/sessions`);
  endUserSessions = (id: number) => this.request<unknown>(`/api/v1/users/${id}/sessions`, { method: 'DELETE' });
  roles = () => this.request<Role[] | { roles: Role[] }>('/api/v1/roles');
  createRole = (body: Body) => this.request<Role>('/api/v1/roles', { method: 'POST', body });
  setRoleScopes = (id: number, scopeNames: string[]) =>
    this.request<Role>(`/api/v1/roles/${id}/scopes`, { method: 'PUT', body: { scope_ids: scopeNames } });
  createScope = (body: Body) => this.request<ScopeInfo>('/api/v1/roles/scopes', { method: 'POST', body });
  scopes = () => this.request<ScopeInfo[] | { scopes: ScopeInfo[] }>('/api/v1/roles/scopes');
  audit = (filters: Record<string, string>) =>
    this.request<{ events: AuditEvent[]; total: number }>(`/api/v1/admin/audit?${new URLSearchParams(filters).toString()}`);
  keys = () => this.request<{ keys: SigningKey[] } | SigningKey[]>('/api/v1/admin/keys');
  rotateKeys = () => this.request<unknown>('/api/v1/admin/keys/rotate', { method: 'POST' });
  stats = () => this.request<Record<string, unknown>>('/api/v1/admin/dashboard/stats');
}

/** Lists arrive bare or wrapped ({symbols: […]}); this takes either. */
export function listOf<T>(value: T[] | Record<string, T[]> | undefined, key: string): T[] {
  if (!value) return [];
  if (Array.isArray(value)) return value;
  return value[key] ?? [];
}
