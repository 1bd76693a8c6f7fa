// The order ticket: validated before sending; every refusal of the server shown in its words.
// One Idempotency-Key per submission: a double click or a retry after a lost answer replays
// the first answer instead of opening a second trade. A double click's second click can land
// after a fast first answer: the same order within DOUBLE_CLICK_MS of it is the same submission.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState, type FormEvent } from 'react';
import type { Quote, SymbolSpec, Trade } from '../../api/types';
import { validateTicket, type TicketErrors, type TicketInput } from '../../api/validation';
import { useAuth } from '../../auth/AuthProvider';
import { price } from '../../components/format';
import { errorText } from '../../components/states';

/** Longer than any double click (the OS default is 500 ms), shorter than a deliberate second order. */
export const DOUBLE_CLICK_MS = 600;

type Order = Parameters<ReturnType<typeof useAuth>['api']['openTrade']>[0];

interface Props {
  symbol: string;
  onSymbol: (s: string) => void;
  symbols: SymbolSpec[];
  quote: Quote | undefined;
}

export function OrderTicket({ symbol, onSymbol, symbols, quote }: Props) {
  const { api } = useAuth();
  const client = useQueryClient();
  const [input, setInput] = useState<Omit<TicketInput, 'symbol'>>({
    volume: '0.10',
    side: 'buy',
    stopLoss: '',
    takeProfit: '',
  });
  const [errors, setErrors] = useState<TicketErrors>({});
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const busy = useRef(false);
  // The last submission: its key, its order, and when its answer came.
  const last = useRef<{ key: string; order: string; settledAt: number } | null>(null);
  const spec = symbols.find((s) => s.symbol === symbol);

  const send = useMutation({
    mutationFn: ({ order, key }: { order: Order; key: string }) => api.openTrade(order, key),
    onSuccess: (trade: Trade) => {
      setResult({ ok: true, text: `Opened #${trade.id}: ${trade.type} ${trade.volume} ${trade.symbol} at ${trade.open_price}` });
      void client.invalidateQueries({ queryKey: ['trades'] });
      void client.invalidateQueries({ queryKey: ['account'] });
    },
    onError: (e) => setResult({ ok: false, text: errorText(e) }),
    onSettled: (_data, _error, { order, key }) => {
      last.current = { key, order: JSON.stringify(order), settledAt: performance.now() };
      busy.current = false;
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (busy.current) return;
    const checked = validateTicket({ ...input, symbol }, spec, quote);
    if ('errors' in checked) {
      setErrors(checked.errors);
      setResult(null);
      return;
    }
    setErrors({});
    busy.current = true;
    const order = JSON.stringify(checked.order);
    const prev = last.current;
    const sameClick = prev !== null && prev.order === order && performance.now() - prev.settledAt < DOUBLE_CLICK_MS;
    send.mutate({ order: checked.order, key: sameClick ? prev.key : crypto.randomUUID() });
  };

  const field = (name: keyof TicketErrors, label: string, value: string, set: (v: string) => void) => (
    <label className="field">
      <span>{label}</span>
      <input
        inputMode="decimal"
        value={value}
        onChange={(e) => set(e.target.value)}
        aria-invalid={errors[name] ? true : undefined}
        aria-describedby={errors[name] ? `${name}-error` : undefined}
        name={name}
      />
      {errors[name] && (
        <span className="field-error" id={`${name}-error`}>
          {errors[name]}
        </span>
      )}
    </label>
  );

  return (
    <form className="ticket-form" onSubmit={submit} noValidate aria-label="Order ticket">
      <label className="field">
        <span>Symbol</span>
        <select value={symbol} onChange={(e) => onSymbol(e.target.value)} name="symbol">
          {symbols.map((s) => (
            <option key={s.symbol} value={s.symbol}>
              {s.symbol}
            </option>
          ))}
        </select>
        {errors.symbol && <span className="field-error">{errors.symbol}</span>}
      </label>
      <div className="sides" role="radiogroup" aria-label="Side">
        {(['buy', 'sell'] as const).map((side) => (
          <button
            key={side}
            type="button"
            role="radio"
            aria-checked={input.side === side}
            className={`side ${side} ${input.side === side ? 'on' : ''}`}
            onClick={() => setInput({ ...input, side })}
          >
            {side === 'buy' ? 'Buy' : 'Sell'}
            <small>{price(side === 'buy' ? quote?.ask : quote?.bid, spec?.digits)}</small>
          </button>
        ))}
      </div>
      {field('volume', 'Volume (lots)', input.volume, (volume) => setInput({ ...input, volume }))}
      {field('stopLoss', 'Stop loss', input.stopLoss, (stopLoss) => setInput({ ...input, stopLoss }))}
      {field('takeProfit', 'Take profit', input.takeProfit, (takeProfit) => setInput({ ...input, takeProfit }))}
      <button type="submit" className={`primary ${input.side}`} disabled={send.isPending}>
        {send.isPending ? 'Sending…' : `${input.side === 'buy' ? 'Buy' : 'Sell'} ${input.volume} ${symbol}`}
      </button>
      {result && (
        <p className={result.ok ? 'notice ok' : 'notice bad'} role={result.ok ? 'status' : 'alert'}>
          {result.text}
        </p>
      )}
    </form>
  );
}
