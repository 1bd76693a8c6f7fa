// The order ticket's checks before anything is sent: what the server would refuse anyway,
// said sooner and next to the field. The server stays the authority (its refusals are shown
// too).
import type { NewOrder, Quote, SymbolSpec } from './types';

export interface TicketInput {
  symbol: string;
  volume: string;
  side: 'buy' | 'sell';
  stopLoss: string;
  takeProfit: string;
}

export type TicketErrors = Partial<Record<'symbol' | 'volume' | 'stopLoss' | 'takeProfit', string>>;

function optionalPrice(text: string): number | undefined | null {
  if (text.trim() === '') return undefined;
  const v = Number(text);
  return Number.isFinite(v) && v > 0 ? v : null;
}

/** The order to send, or the reasons it cannot be sent. */
export function validateTicket(
  input: TicketInput,
  spec: SymbolSpec | undefined,
  quote: Quote | undefined,
): { order: NewOrder } | { errors: TicketErrors } {
  const errors: TicketErrors = {};
  if (!spec) errors.symbol = 'Choose a symbol.';
  const volume = Number(input.volume);
  const min = spec?.volume_min ?? 0.01;
  const max = Math.min(spec?.volume_max ?? 100, 100);
  const step = spec?.volume_step ?? 0.01;
  if (input.volume.trim() === '' || !Number.isFinite(volume) || volume <= 0) {
    errors.volume = 'Enter a volume in lots.';
  } else if (volume < min || volume > max) {
    errors.volume = `Volume must be from ${min} to ${max} lots.`;
  } else if (Math.abs(Math.round(volume / step) * step - volume) > 1e-9) {
    errors.volume = `Volume must be a multiple of ${step}.`;
  }
  const sl = optionalPrice(input.stopLoss);
  const tp = optionalPrice(input.takeProfit);
  if (sl === null) errors.stopLoss = 'Stop loss must be a positive price, or empty.';
  if (tp === null) errors.takeProfit = 'Take profit must be a positive price, or empty.';
  if (quote) {
    const entry = input.side === 'buy' ? quote.ask : quote.bid;
    const below = input.side === 'buy';
    if (typeof sl === 'number' && (below ? sl >= entry : sl <= entry)) {
      errors.stopLoss = `Stop loss must be ${below ? 'below' : 'above'} the entry price (${entry}).`;
    }
    if (typeof tp === 'number' && (below ? tp <= entry : tp >= entry)) {
      errors.takeProfit = `Take profit must be ${below ? 'above' : 'below'} the entry price (${entry}).`;
    }
  }
  if (Object.keys(errors).length > 0) return { errors };
  const order: NewOrder = { symbol: input.symbol, volume, trade_type: input.side };
  if (typeof sl === 'number') order.stop_loss = sl;
  if (typeof tp === 'number') order.take_profit = tp;
  return { order };
}
