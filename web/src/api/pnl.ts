// Floating P&L between server updates, from live quotes: what MT5 itself shows. A position's
// profit is (close-side price − open price) × direction × volume × contract size, in the
// instrument's profit currency, converted to the account's at the current rate.
import type { Quote, SymbolSpec, Trade } from './types';

export type Quotes = ReadonlyMap<string, Quote>;

/** The price a position would close at now: bid for a buy, ask for a sell. */
export function closingPrice(trade: Trade, quote: Quote | undefined): number {
  if (!quote) return trade.current_price;
  return trade.type === 'buy' ? quote.bid : quote.ask;
}

/** How many account-currency units one unit of `currency` is worth; null when unknown. */
export function conversionRate(currency: string, account: string, quotes: Quotes): number | null {
  if (currency === account) return 1;
  const direct = quotes.get(currency + account);
  if (direct) return (direct.bid + direct.ask) / 2;
  const inverse = quotes.get(account + currency);
  if (inverse) return 2 / (inverse.bid + inverse.ask);
  return null;
}

/** The symbols whose quotes convert `spec`'s profit into the account currency. */
export function conversionSymbols(spec: SymbolSpec, account: string): string[] {
  if (spec.currency_profit === account) return [];
  return [spec.currency_profit + account, account + spec.currency_profit];
}

export function contractSize(spec: SymbolSpec | undefined): number | null {
  return spec?.trade_contract_size ?? spec?.contract_size ?? null;
}

/**
 * The position's profit at the live quote. Falls back to the server's figure when the quote,
 * the contract size or the conversion rate is not known yet.
 */
export function liveProfit(trade: Trade, spec: SymbolSpec | undefined, account: string, quotes: Quotes): number {
  const quote = quotes.get(trade.symbol);
  const size = contractSize(spec);
  if (!quote || !spec || size === null) return trade.profit;
  const rate = conversionRate(spec.currency_profit, account, quotes);
  if (rate === null) return trade.profit;
  const direction = trade.type === 'buy' ? 1 : -1;
  const raw = (closingPrice(trade, quote) - trade.open_price) * direction * trade.volume * size * rate;
  return Math.round(raw * 100) / 100;
}
