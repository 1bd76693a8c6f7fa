import { describe, expect, it, vi } from 'vitest';
import { Session } from '../auth/session';
import { Api, ApiError } from './client';

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers });
}

describe('Api', () => {
  it('turns a refusal into its words, field and code', async () => {
    const session = new Session(vi.fn() as unknown as typeof fetch, {} as Location, sessionStorage);
    const fetcher = vi.fn(async () =>
      respond(422, { error: 'invalid_volume', error_description: 'Volume 0.001 is below 0.01.', field: 'volume' }),
    );
    const api = new Api(session, fetcher as unknown as typeof fetch);
    const error = await api.openTrade({ symbol: 'EURUSD', volume: 0.001, trade_type: 'buy' }, 'k1').catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 422, code: 'invalid_volume', field: 'volume' });
    expect((error as Error).message).toBe('Volume 0.001 is below 0.01.');
  });

  it('sends the idempotency key and the bearer token', async () => {
    const tokenFetch = vi.fn(async () => respond(200, { access_token: 'at', expires_in: 900, scope: '' }));
    const session = new Session(tokenFetch as unknown as typeof fetch, {} as Location, sessionStorage);
    await session.refresh();
    const fetcher = vi.fn<(url: string, init: RequestInit) => Promise<Response>>(async () => respond(201, { id: 7 }));
    const api = new Api(session, fetcher as unknown as typeof fetch);
    await api.openTrade({ symbol: 'EURUSD', volume: 0.1, trade_type: 'buy' }, 'key-1');
    const headers = fetcher.mock.calls[0]![1].headers as Record<string, string>;
    expect(headers['Idempotency-Key']).toBe('key-1');
    expect(headers.Authorization).toBe('Bearer at');
  });

  it('refreshes once on 401 and retries', async () => {
    const tokenFetch = vi.fn(async () => respond(200, { access_token: 'fresh', expires_in: 900, scope: '' }));
    const session = new Session(tokenFetch as unknown as typeof fetch, {} as Location, sessionStorage);
    const fetcher = vi
      .fn()
      .mockResolvedValueOnce(respond(401, { error: 'invalid_token' }))
      .mockResolvedValueOnce(respond(200, { balance: 1 }));
    const api = new Api(session, fetcher as unknown as typeof fetch);
    await expect(api.account()).resolves.toEqual({ balance: 1 });
    expect((fetcher.mock.calls[1]![1].headers as Record<string, string>).Authorization).toBe('Bearer fresh');
  });

  it('adds Retry-After to a rate-limit refusal', async () => {
    const session = new Session(vi.fn() as unknown as typeof fetch, {} as Location, sessionStorage);
    const fetcher = vi.fn(async () =>
      respond(429, { error: 'rate_limited', error_description: 'Too many requests.' }, { 'Retry-After': '7' }),
    );
    const api = new Api(session, fetcher as unknown as typeof fetch);
    await expect(api.account()).rejects.toThrow('Too many requests. Retry in 7 s.');
  });
});
