import { afterEach, describe, expect, it, vi } from 'vitest';
import { refreshDelayMs, Session } from './session';

interface Call {
  url: string;
  init: RequestInit;
}

function fakeFetch(answers: Array<{ status: number; body?: unknown }>) {
  const calls: Call[] = [];
  const fetcher = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    const next = answers.shift() ?? { status: 500 };
    return new Response(next.body === undefined ? null : JSON.stringify(next.body), { status: next.status });
  });
  return { fetcher: fetcher as unknown as typeof fetch, calls };
}

function fakeLocation(search = '') {
  return { origin: 'https://app.test', assign: vi.fn(), search } as unknown as Location;
}

const grant = { access_token: 'at-1', expires_in: 900, scope: 'trade:read admin:users', session_id: 's1' };

afterEach(() => {
  sessionStorage.clear();
  localStorage.clear();
  vi.useRealTimers();
});

describe('Session', () => {
  it('starts sign-in with S256 PKCE, state and the exact redirect URI', async () => {
    const location = fakeLocation();
    const session = new Session(fakeFetch([]).fetcher, location, sessionStorage);
    await session.beginSignIn('/history');
    const target = new URL(vi.mocked(location.assign).mock.calls[0]![0] as string, 'https://app.test');
    expect(target.pathname).toBe('/api/v1/auth/authorize');
    expect(target.searchParams.get('response_type')).toBe('code');
    expect(target.searchParams.get('client_id')).toBe('dashboard');
    expect(target.searchParams.get('redirect_uri')).toBe('https://app.test/auth/callback');
    expect(target.searchParams.get('code_challenge_method')).toBe('S256');
    expect(target.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(target.searchParams.get('state')).toBeTruthy();
  });

  it('exchanges the code, keeps the token in memory only, and returns where it was going', async () => {
    const location = fakeLocation();
    const { fetcher, calls } = fakeFetch([{ status: 200, body: grant }]);
    const session = new Session(fetcher, location, sessionStorage);
    await session.beginSignIn('/history');
    const state = new URL(vi.mocked(location.assign).mock.calls[0]![0] as string, 'https://app.test').searchParams.get(
      'state',
    );
    const to = await session.completeSignIn(`?code=abc&state=${state}`);
    expect(to).toBe('/history');
    expect(session.token?.token).toBe('at-1');
    expect(session.token?.scopes).toContain('admin:users');
    const form = new URLSearchParams(calls[0]!.init.body as string);
    expect(form.get('grant_type')).toBe('authorization_code');
    expect(form.get('code')).toBe('abc');
    expect(form.get('code_verifier')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(calls[0]!.init.credentials).toBe('same-origin');
    // Nothing of the sign-in is left in storage, and no token was ever put there.
    expect(sessionStorage.length).toBe(0);
    expect(localStorage.length).toBe(0);
  });

  it('refuses an answer whose state is not its request', async () => {
    const location = fakeLocation();
    const session = new Session(fakeFetch([{ status: 200, body: grant }]).fetcher, location, sessionStorage);
    await session.beginSignIn();
    await expect(session.completeSignIn('?code=abc&state=forged')).rejects.toThrow(/does not match/);
    expect(session.token).toBeNull();
  });

  it('shows the server error of a refused sign-in', async () => {
    const session = new Session(fakeFetch([]).fetcher, fakeLocation(), sessionStorage);
    await expect(session.completeSignIn('?error=access_denied&error_description=No+way')).rejects.toThrow('No way');
  });

  it('refreshes from the cookie before expiry, and signs out when the cookie is refused', async () => {
    vi.useFakeTimers();
    const { fetcher, calls } = fakeFetch([
      { status: 200, body: { ...grant, expires_in: 60 } },
      { status: 200, body: { ...grant, access_token: 'at-2', expires_in: 60 } },
      { status: 400, body: { error: 'invalid_grant' } },
    ]);
    const session = new Session(fetcher, fakeLocation(), sessionStorage);
    expect((await session.refresh())?.token).toBe('at-1');
    const form = new URLSearchParams(calls[0]!.init.body as string);
    expect(form.get('grant_type')).toBe('refresh_token');
    expect(form.has('refresh_token')).toBe(false); // the cookie carries it
    await vi.advanceTimersByTimeAsync(refreshDelayMs(60));
    expect(session.token?.token).toBe('at-2');
    await vi.advanceTimersByTimeAsync(refreshDelayMs(60));
    expect(session.token).toBeNull();
  });

  it('joins concurrent refreshes into one request', async () => {
    const { fetcher, calls } = fakeFetch([{ status: 200, body: grant }]);
    const session = new Session(fetcher, fakeLocation(), sessionStorage);
    const [a, b] = await Promise.all([session.refresh(), session.refresh()]);
    expect(a?.token).toBe('at-1');
    expect(b?.token).toBe('at-1');
    expect(calls.length).toBe(1);
  });

  it('logs out at the server with the token and forgets it', async () => {
    const { fetcher, calls } = fakeFetch([{ status: 200, body: grant }, { status: 200, body: {} }]);
    const session = new Session(fetcher, fakeLocation(), sessionStorage);
    await session.refresh();
    await session.logout();
    expect(session.token).toBeNull();
    expect(calls[1]!.url).toBe('/api/v1/auth/logout');
    expect((calls[1]!.init.headers as Record<string, string>).Authorization).toBe('Bearer at-1');
  });
});
