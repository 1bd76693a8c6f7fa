// Open positions with live prices and P&L; close, or modify stop loss and take profit.
import { useMutation, useQueryClient, type UseQueryResult } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { closingPrice } from '../../api/pnl';
import type { Quote, SymbolSpec, Trade } from '../../api/types';
import { useAuth } from '../../auth/AuthProvider';
import { money, price, signClass, time } from '../../components/format';
import { Empty, errorText, QueryView } from '../../components/states';

interface Props {
  query: UseQueryResult<Trade[]>;
  profits: ReadonlyMap<number, number>;
  quotes: ReadonlyMap<string, Quote>;
  symbols: SymbolSpec[];
  currency: string;
}

export function Positions({ query, profits, quotes, symbols, currency }: Props) {
  const [editing, setEditing] = useState<number | null>(null);
  return (
    <QueryView query={query} empty={(t) => (t.length === 0 ? <Empty>No open positions.</Empty> : null)}>
      {(trades) => (
        <div className="table-wrap">
          <table className="grid" data-testid="positions">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Symbol</th>
                <th scope="col">Side</th>
                <th scope="col" className="num">Volume</th>
                <th scope="col" className="num">Open</th>
                <th scope="col" className="num">Price</th>
                <th scope="col" className="num">S/L</th>
                <th scope="col" className="num">T/P</th>
                <th scope="col" className="num">P&amp;L</th>
                <th scope="col">Opened</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {trades.map((t) => {
                const digits = symbols.find((s) => s.symbol === t.symbol)?.digits ?? 5;
                const pnl = profits.get(t.id) ?? t.profit;
                return (
                  <PositionRow
                    key={t.id}
                    trade={t}
                    digits={digits}
                    pnl={pnl}
                    currency={currency}
                    current={closingPrice(t, quotes.get(t.symbol))}
                    editing={editing === t.id}
                    onEdit={(on) => setEditing(on ? t.id : null)}
                  />
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </QueryView>
  );
}

interface RowProps {
  trade: Trade;
  digits: number;
  pnl: number;
  currency: string;
  current: number;
  editing: boolean;
  onEdit: (on: boolean) => void;
}

function PositionRow({ trade: t, digits, pnl, currency, current, editing, onEdit }: RowProps) {
  const { api } = useAuth();
  const client = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ['trades'] });
    void client.invalidateQueries({ queryKey: ['account'] });
  };
  const close = useMutation({
    mutationFn: () => api.closeTrade(t.id),
    onSuccess: refresh,
    onError: (e) => setError(errorText(e)),
  });
  return (
    <>
      <tr data-trade-id={t.id}>
        <td>{t.id}</td>
        <td>{t.symbol}</td>
        <td className={t.type}>{t.type}</td>
        <td className="num">{t.volume.toFixed(2)}</td>
        <td className="num">{price(t.open_price, digits)}</td>
        <td className="num">{price(current, digits)}</td>
        <td className="num">{price(t.stop_loss, digits)}</td>
        <td className="num">{price(t.take_profit, digits)}</td>
        <td className={`num pnl ${signClass(pnl)}`} data-testid="pnl">
          {money(pnl, currency)}
        </td>
        <td>{time(t.open_time)}</td>
        <td className="actions">
          <button type="button" className="ghost" onClick={() => onEdit(!editing)} aria-expanded={editing}>
            Modify
          </button>
          <button
            type="button"
            className="danger"
            disabled={close.isPending}
            onClick={() => close.mutate()}
            aria-label={`Close position ${t.id}`}
          >
            {close.isPending ? 'Closing…' : 'Close'}
          </button>
        </td>
      </tr>
      {(editing || error) && (
        <tr className="subrow">
          <td colSpan={11}>
            {error && (
              <p className="notice bad" role="alert">
                {error}
              </p>
            )}
            {editing && <ModifyForm trade={t} onDone={() => onEdit(false)} onError={setError} />}
          </td>
        </tr>
      )}
    </>
  );
}

function ModifyForm({ trade, onDone, onError }: { trade: Trade; onDone: () => void; onError: (e: string) => void }) {
  const { api } = useAuth();
  const client = useQueryClient();
  const [sl, setSl] = useState(trade.stop_loss?.toString() ?? '');
  const [tp, setTp] = useState(trade.take_profit?.toString() ?? '');
  const modify = useMutation({
    mutationFn: () =>
      api.modifyTrade(trade.id, { stop_loss: sl.trim() ? Number(sl) : null, take_profit: tp.trim() ? Number(tp) : null }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['trades'] });
      onDone();
    },
    onError: (e) => onError(errorText(e)),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    modify.mutate();
  };
  return (
    <form className="inline-form" onSubmit={submit} aria-label={`Modify position ${trade.id}`}>
      <label className="field">
        <span>Stop loss</span>
        <input inputMode="decimal" value={sl} onChange={(e) => setSl(e.target.value)} placeholder="none" />
      </label>
      <label className="field">
        <span>Take profit</span>
        <input inputMode="decimal" value={tp} onChange={(e) => setTp(e.target.value)} placeholder="none" />
      </label>
      <button type="submit" className="primary" disabled={modify.isPending}>
        Save
      </button>
      <button type="button" className="ghost" onClick={onDone}>
        Cancel
      </button>
    </form>
  );
}
