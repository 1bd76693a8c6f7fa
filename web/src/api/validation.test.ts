import { describe, expect, it } from 'vitest';
import { EURUSD, EURUSD_QUOTE } from '../test/fixtures';
import { validateTicket, type TicketInput } from './validation';

const spec = EURUSD;
const quote = EURUSD_QUOTE;
const input = (over: Partial<TicketInput> = {}): TicketInput => ({
  symbol: 'EURUSD',
  volume: '0.10',
  side: 'buy',
  stopLoss: '',
  takeProfit: '',
  ...over,
});

describe('validateTicket', () => {
  it('builds the order from valid input', () => {
    expect(validateTicket(input({ stopLoss: '1.09', takeProfit: '1.12' }), spec, quote)).toEqual({
      order: { symbol: 'EURUSD', volume: 0.1, trade_type: 'buy', stop_loss: 1.09, take_profit: 1.12 },
    });
  });

  it.each([
    ['', 'Enter a volume'],
    ['abc', 'Enter a volume'],
    ['0', 'Enter a volume'],
    ['101', 'from 0.01 to 100'],
    ['0.015', 'multiple of 0.01'],
  ])('refuses volume %s', (volume, why) => {
    const r = validateTicket(input({ volume }), spec, quote);
    expect('errors' in r && r.errors.volume).toContain(why);
  });

  it('puts stops on the right side of the entry', () => {
    const buy = validateTicket(input({ stopLoss: '1.2', takeProfit: '1.0' }), spec, quote);
    expect('errors' in buy && buy.errors.stopLoss).toContain('below');
    expect('errors' in buy && buy.errors.takeProfit).toContain('above');
    const sell = validateTicket(input({ side: 'sell', stopLoss: '1.0', takeProfit: '1.2' }), spec, quote);
    expect('errors' in sell && sell.errors.stopLoss).toContain('above');
    expect('errors' in sell && sell.errors.takeProfit).toContain('below');
  });

  it('needs a symbol it knows', () => {
    const r = validateTicket(input(), undefined, quote);
    expect('errors' in r && r.errors.symbol).toBeTruthy();
  });
});
