// The browser's session with Permiso, as the OAuth browser-apps guidance wants it:
// - sign-in is the authorization code grant with PKCE on permiso-auth's own page;
// - the access token lives only in this object's memory;
// - the refresh token never reaches script: permiso-auth keeps it in an HttpOnly, Secure,
//   SameSite=Strict cookie scoped to the token endpoint, rotated on every use;
// - a refresh runs before the access token expires, and one tab at a time refreshes (Web
//   Locks), because two tabs presenting the same rotated cookie would look like token theft.
import { randomVerifier, s256Challenge } from './pkce';

export const CLIENT_ID = 'dashboard';
export const TOKEN_ENDPOINT = '/api/v1/auth/token';
export const AUTHORIZE_ENDPOINT = '/api/v1/auth/authorize';
export const CALLBACK_PATH = '/auth/callback';
/** Only the pending request's verifier and state survive the redirect; never a token. */
const PENDING_KEY = 'permiso.pending-sign-in';

export interface AccessToken {
  token: string;
  scopes: string[];
  expiresAt: number; // ms since epoch
  sessionId: string;
}

export interface TokenAnswer {
  access_token: string;
  expires_in: number;
  scope: string;
  session_id?: string;
}

export class SignInError extends Error {}

/** Refresh this long before expiry, or at 80 % of a short lifetime. */
export function refreshDelayMs(expiresInS: number): number {
  const lead = Math.min(60, expiresInS * 0.2);
  return Math.max(1, expiresInS - lead) * 1000;
}

export function toAccessToken(answer: TokenAnswer, now = Date.now()): AccessToken {
  return {
    token: answer.access_token,
    scopes: answer.scope ? answer.scope.split(' ') : [],
    expiresAt: now + answer.expires_in * 1000,
    sessionId: answer.session_id ?? '',
  };
}

type Listener = (token: AccessToken | null) => void;

export class Session {
  private current: AccessToken | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private inflight: Promise<AccessToken | null> | null = null;
  private listeners = new Set<Listener>();

  constructor(
    private readonly fetcher: typeof fetch = (...args) => fetch(...args),
    private readonly location: Location = window.location,
    private readonly storage: Storage = window.sessionStorage,
  ) {}

  get token(): AccessToken | null {
    return this.current;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  redirectUri(): string {
    return this.location.origin + CALLBACK_PATH;
  }

  /** Sends the browser to permiso-auth's sign-in page. */
  async beginSignIn(returnTo = '/'): Promise<void> {
    const verifier = randomVerifier();
    const state = randomVerifier();
    this.storage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, returnTo }));
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: this.redirectUri(),
      state,
      code_challenge: await s256Challenge(verifier),
      code_challenge_method: 'S256',
    });
    this.location.assign(`${AUTHORIZE_ENDPOINT}?${params.toString()}`);
  }

  /** Completes a sign-in at the callback URL; returns where the person was going. */
  async completeSignIn(search: string): Promise<string> {
    const params = new URLSearchParams(search);
    const pendingText = this.storage.getItem(PENDING_KEY);
    this.storage.removeItem(PENDING_KEY);
    const error = params.get('error');
    if (error) throw new SignInError(params.get('error_description') ?? error);
    if (!pendingText) throw new SignInError('This sign-in was not started here. Please sign in again.');
    const pending = JSON.parse(pendingText) as { verifier: string; state: string; returnTo: string };
    if (params.get('state') !== pending.state) throw new SignInError('The sign-in answer does not match its request.');
    const code = params.get('code');
    if (!code) throw new SignInError('The sign-in answer has no code.');
    const answer = await this.tokenRequest({
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.redirectUri(),
      client_id: CLIENT_ID,
      code_verifier: pending.verifier,
    });
    if (!answer) throw new SignInError('The sign-in could not be completed. Please sign in again.');
    this.set(answer);
    return pending.returnTo.startsWith('/') ? pending.returnTo : '/';
  }

  /** A new access token from the refresh cookie; null when there is no live session. */
  refresh(): Promise<AccessToken | null> {
    if (!this.inflight) {
      this.inflight = this.withLock(async () => {
        const answer = await this.tokenRequest({ grant_type: 'refresh_token', client_id: CLIENT_ID });
        if (answer) this.set(answer);
        else this.clear();
        return this.current;
      }).finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  /** Ends the session at permiso-auth (which clears the cookie) and forgets the token. */
  async logout(): Promise<void> {
    const token = this.current?.token;
    this.clear();
    if (!token) return;
    await this.fetcher('/api/v1/auth/logout', {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      credentials: 'same-origin',
    }).catch(() => undefined);
  }

  private async tokenRequest(form: Record<string, string>): Promise<TokenAnswer | null> {
    const res = await this.fetcher(TOKEN_ENDPOINT, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
      credentials: 'same-origin',
    });
    if (!res.ok) return null;
    return (await res.json()) as TokenAnswer;
  }

  private set(answer: TokenAnswer): void {
    this.current = toAccessToken(answer);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), refreshDelayMs(answer.expires_in));
    this.emit();
  }

  private clear(): void {
    clearTimeout(this.timer);
    this.current = null;
    this.emit();
  }

  private emit(): void {
    for (const l of this.listeners) l(this.current);
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
    return locks ? (locks.request('permiso-refresh', fn) as Promise<T>) : fn();
  }
}
