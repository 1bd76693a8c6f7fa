import { describe, expect, it } from 'vitest';
import { liveProfit } from './pnl';
import type { Quote, SymbolSpec, Trade } from './types';

const trade = (over: Partial<Trade>): Trade => ({
  id: 1,
  symbol: 'EURUSD',
  volume: 1,
  type: 'buy',
  open_price: 1.1,
  current_price: 1.1,
  profit: -3,
  stop_loss: null,
  take_profit: null,
  open_time: '',
  close_time: null,
  close_price: 0,
  status: 'open',
  comment: '',
  ...over,
});
const spec = (symbol: string, profit: string): SymbolSpec => ({
  symbol,
  description: '',
  currency_base: symbol.slice(0, 3),
  currency_profit: profit,
  digits: 5,
  point: 0.00001,
  contract_size: 100000,
});
const q = (symbol: string, bid: number, ask: number): [string, Quote] => [
  symbol,
  { symbol, bid, ask, spread: ask - bid, last_update: '' },
];

describe('liveProfit', () => {
  it('values a buy at the bid and a sell at the ask', () => {
    const quotes = new Map([q('EURUSD', 1.101, 1.1012)]);
    expect(liveProfit(trade({}), spec('EURUSD', 'USD'), 'USD', quotes)).toBe(100);
    expect(liveProfit(trade({ type: 'sell' }), spec('EURUSD', 'USD'), 'USD', quotes)).toBe(-120);
  });

  it('converts the profit currency with the inverse quote', () => {
    const quotes = new Map([q('USDJPY', 151, 151), q('EURJPY', 166.1, 166.1)]);
    const t = trade({ symbol: 'EURJPY', open_price: 166 });
    // 0.1 JPY × 100,000 = 10,000 JPY at 151 JPY per USD
    expect(liveProfit(t, spec('EURJPY', 'JPY'), 'USD', quotes)).toBeCloseTo(66.23, 2);
  });

  it("keeps the server's figure until it can compute one", () => {
    expect(liveProfit(trade({}), spec('EURUSD', 'USD'), 'USD', new Map())).toBe(-3);
    const quotes = new Map([q('EURJPY', 166.1, 166.1)]);
    expect(liveProfit(trade({ symbol: 'EURJPY' }), spec('EURJPY', 'JPY'), 'USD', quotes)).toBe(-3);
  });
});
