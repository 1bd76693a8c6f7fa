import { describe, expect, it, vi } from 'vitest';
import { Session } from '../auth/session';
import { errorText } from '../components/states';
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

  it('starts a W3C trace per call, keeps it across the retry after a refresh, and names it in a refusal', async () => {
    const tokenFetch = vi.fn(async () => respond(200, { access_token: 'fresh', expires_in: 900, scope: '' }));
    const session = new Session(tokenFetch as unknown as typeof fetch, {} as Location, sessionStorage);
    const fetcher = vi
      .fn<(url: string, init: RequestInit) => Promise<Response>>()
      .mockResolvedValueOnce(respond(401, { error: 'invalid_token' }))
      .mockResolvedValueOnce(respond(503, { error: 'unavailable', error_description: 'Storage is down.' }))
      .mockResolvedValueOnce(respond(200, { balance: 1 }));
    const api = new Api(session, fetcher as unknown as typeof fetch);
    const error = (await api.account().catch((e) => e)) as ApiError;
    await api.account();
    const sent = fetcher.mock.calls.map((c) => (c[1].headers as Record<string, string>).traceparent ?? '');
    const format = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;
    for (const header of sent) expect(header).toMatch(format);
    const [first, retry, next] = sent.map((h) => format.exec(h)!);
    expect(retry![1]).toBe(first![1]); // one call, one trace…
    expect(retry![2]).not.toBe(first![2]); // …each attempt its own span
    expect(next![1]).not.toBe(first![1]); // the next call is a new trace
    expect(error.traceId).toBe(first![1]);
    expect(errorText(error)).toBe(`Storage is down. (reference ${first![1]})`);
    // A refusal of the request itself keeps its trace id but says only why.
    expect(errorText(new ApiError(422, 'invalid_volume', 'Volume too small.', 'volume', first![1]))).toBe(
      'Volume too small.',
    );
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
