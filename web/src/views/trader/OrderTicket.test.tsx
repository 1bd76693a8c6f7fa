import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EURUSD, EURUSD_QUOTE } from '../../test/fixtures';
import { AuthProvider } from '../../auth/AuthProvider';
import { DOUBLE_CLICK_MS, OrderTicket } from './OrderTicket';

const spec = EURUSD;
const quote = EURUSD_QUOTE;

interface Sent {
  url: string;
  init: RequestInit;
}

/** The network: a session from the refresh cookie, and the trade endpoint's answer. */
function network(tradeAnswer: () => Response) {
  const sent: Sent[] = [];
  let release: (() => void) | undefined;
  const held = new Promise<void>((r) => (release = r));
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string, init: RequestInit) => {
      sent.push({ url, init });
      if (url === '/api/v1/auth/token') {
        return new Response(JSON.stringify({ access_token: 'at', expires_in: 900, scope: 'trade:open' }), {
          status: 200,
        });
      }
      await held; // the answer arrives only when the test says so
      return tradeAnswer();
    }),
  );
  return { sent, answer: () => release?.() };
}

function renderTicket() {
  const client = new QueryClient();
  return render(
    <QueryClientProvider client={client}>
      <AuthProvider>
        <OrderTicket symbol="EURUSD" onSymbol={() => undefined} symbols={[spec]} quote={quote} />
      </AuthProvider>
    </QueryClientProvider>,
  );
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('OrderTicket', () => {
  it('sends one order for a double click, with an idempotency key', async () => {
    const net = network(
      () => new Response(JSON.stringify({ id: 7, type: 'buy', volume: 0.1, symbol: 'EURUSD', open_price: 1.1002 }), { status: 201 }),
    );
    renderTicket();
    const button = screen.getByRole('button', { name: /^Buy 0.10 EURUSD/ });
    await act(async () => {
      fireEvent.click(button);
      fireEvent.click(button);
    });
    net.answer();
    await screen.findByText(/Opened #7/);
    const orders = net.sent.filter((s) => s.url === '/api/v1/trades');
    expect(orders).toHaveLength(1);
    expect((orders[0]!.init.headers as Record<string, string>)['Idempotency-Key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(JSON.parse(orders[0]!.init.body as string)).toEqual({ symbol: 'EURUSD', volume: 0.1, trade_type: 'buy' });
  });

  it('a second click just after a fast answer replays the same order; a later one is a new order', async () => {
    const net = network(
      () => new Response(JSON.stringify({ id: 7, type: 'buy', volume: 0.1, symbol: 'EURUSD', open_price: 1.1002 }), { status: 201 }),
    );
    net.answer(); // answers at once, so the first click settles before the second arrives
    let now = 1_000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    renderTicket();
    const button = screen.getByRole('button', { name: /^Buy 0.10 EURUSD/ });
    const keys = () =>
      net.sent
        .filter((s) => s.url === '/api/v1/trades')
        .map((s) => (s.init.headers as Record<string, string>)['Idempotency-Key']);
    await act(async () => fireEvent.click(button));
    await waitFor(() => expect(keys()).toHaveLength(1));
    await screen.findByText(/Opened #7/);
    now += DOUBLE_CLICK_MS - 100; // the double click's second click
    await act(async () => fireEvent.click(button));
    await waitFor(() => expect(keys()).toHaveLength(2));
    expect(keys()[1]).toBe(keys()[0]); // the server replays the first answer: one trade
    await waitFor(() => expect(button.hasAttribute('disabled')).toBe(false));
    now += DOUBLE_CLICK_MS + 100; // a deliberate second order
    await act(async () => fireEvent.click(button));
    await waitFor(() => expect(keys()).toHaveLength(3));
    expect(keys()[2]).not.toBe(keys()[0]);
    vi.restoreAllMocks();
  });

  it('shows what is wrong before sending anything', async () => {
    const net = network(() => new Response('{}', { status: 201 }));
    renderTicket();
    fireEvent.change(screen.getByLabelText('Volume (lots)'), { target: { value: '0' } });
    fireEvent.change(screen.getByLabelText('Stop loss'), { target: { value: '1.2' } });
    fireEvent.click(screen.getByRole('button', { name: /^Buy 0 EURUSD/ }));
    expect(await screen.findByText('Enter a volume in lots.')).toBeTruthy();
    expect(screen.getByText(/Stop loss must be below the entry price/)).toBeTruthy();
    expect(net.sent.filter((s) => s.url === '/api/v1/trades')).toHaveLength(0);
  });

  it("shows the server's refusal in its words", async () => {
    const net = network(
      () =>
        new Response(
          JSON.stringify({ error: 'insufficient_margin', error_description: 'Not enough money', broker_retcode: 10019 }),
          { status: 422, headers: { 'Content-Type': 'application/json' } },
        ),
    );
    renderTicket();
    fireEvent.click(screen.getByRole('button', { name: /^Buy 0.10 EURUSD/ }));
    net.answer();
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('Not enough money');
    // The next submission is a new order: a new key.
    await waitFor(() => expect(screen.getByRole('button', { name: /^Buy 0.10 EURUSD/ })).toBeTruthy());
  });
});
