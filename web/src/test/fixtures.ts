// Market data the unit tests share: EURUSD as the simulator specifies it, and a quote.
import type { Quote, SymbolSpec } from '../api/types';

export const EURUSD: SymbolSpec = {
  symbol: 'EURUSD',
  description: 'Euro vs US Dollar',
  currency_base: 'EUR',
  currency_profit: 'USD',
  digits: 5,
  point: 0.00001,
  contract_size: 100000,
  volume_min: 0.01,
  volume_max: 100,
  volume_step: 0.01,
};

export const EURUSD_QUOTE: Quote = { symbol: 'EURUSD', bid: 1.1, ask: 1.1002, spread: 0.0002, last_update: '' };
