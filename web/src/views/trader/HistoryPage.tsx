// Closed trades and deals, filtered by symbol and period.
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { listOf } from '../../api/client';
import type { Deal } from '../../api/types';
import { useAuth } from '../../auth/AuthProvider';
import { money, price, signClass, time } from '../../components/format';
import { Empty, QueryView } from '../../components/states';

const PERIODS: Record<string, number> = { 'Last day': 1, 'Last week': 7, 'Last 30 days': 30, 'Last 90 days': 90 };

export function HistoryPage() {
  const { api } = useAuth();
  const [days, setDays] = useState(30);
  const [symbol, setSymbol] = useState('');
  const [kind, setKind] = useState<'trades' | 'deals'>('trades');
  const from = useMemo(() => new Date(Date.now() - days * 86400_000).toISOString().slice(0, 19) + 'Z', [days]);
  const trades = useQuery({ queryKey: ['trades', 'closed'], queryFn: () => api.trades('closed', 1000) });
  const deals = useQuery({
    queryKey: ['deals', from],
    queryFn: async () => listOf<Deal>(await api.deals(from), 'deals'),
    enabled: kind === 'deals',
  });
  const match = (s: string) => !symbol || s.toUpperCase().includes(symbol.trim().toUpperCase());
  const since = Date.parse(from);

  return (
    <section className="panel" aria-labelledby="history-title">
      <h1 id="history-title">History</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="History filters">
        <div className="segmented" role="group" aria-label="Show">
          <button type="button" aria-pressed={kind === 'trades'} onClick={() => setKind('trades')}>
            Closed trades
          </button>
          <button type="button" aria-pressed={kind === 'deals'} onClick={() => setKind('deals')}>
            Deals
          </button>
        </div>
        <label className="field inline">
          <span>Symbol</span>
          <input value={symbol} onChange={(e) => setSymbol(e.target.value)} placeholder="all" name="symbol-filter" />
        </label>
        <label className="field inline">
          <span>Period</span>
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            {Object.entries(PERIODS).map(([label, d]) => (
              <option key={d} value={d}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </form>
      {kind === 'trades' ? (
        <QueryView query={trades}>
          {(all) => {
            const rows = all.filter((t) => match(t.symbol) && Date.parse(t.close_time ?? t.open_time) >= since);
            if (rows.length === 0) return <Empty>No closed trades in this period.</Empty>;
            return (
              <div className="table-wrap">
                <table className="grid" data-testid="history">
                  <thead>
                    <tr>
                      <th scope="col">#</th>
                      <th scope="col">Symbol</th>
                      <th scope="col">Side</th>
                      <th scope="col" className="num">Volume</th>
                      <th scope="col" className="num">Open</th>
                      <th scope="col" className="num">Close</th>
                      <th scope="col" className="num">Profit</th>
                      <th scope="col">Opened</th>
                      <th scope="col">Closed</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((t) => (
                      <tr key={t.id} data-trade-id={t.id}>
                        <td>{t.id}</td>
                        <td>{t.symbol}</td>
                        <td className={t.type}>{t.type}</td>
                        <td className="num">{t.volume.toFixed(2)}</td>
                        <td className="num">{price(t.open_price)}</td>
                        <td className="num">{price(t.close_price)}</td>
                        <td className={`num ${signClass(t.profit)}`}>{money(t.profit)}</td>
                        <td>{time(t.open_time)}</td>
                        <td>{time(t.close_time)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
          }}
        </QueryView>
      ) : (
        <QueryView query={deals}>
          {(all) => {
            const rows = all.filter((d) => match(d.symbol));
            if (rows.length === 0) return <Empty>No deals in this period.</Empty>;
            return (
              <div className="table-wrap">
                <table className="grid">
                  <thead>
                    <tr>
                      <th scope="col">Deal</th>
                      <th scope="col">Time</th>
                      <th scope="col">Symbol</th>
                      <th scope="col">Type</th>
                      <th scope="col">Entry</th>
                      <th scope="col" className="num">Volume</th>
                      <th scope="col" className="num">Price</th>
                      <th scope="col" className="num">Profit</th>
                    </tr>
                  </thead>
                  <tbody>
                    {rows.map((d) => (
                      <tr key={d.id}>
                        <td>{d.id}</td>
                        <td>{time(d.time)}</td>
                        <td>{d.symbol || '—'}</td>
                        <td>{d.type}</td>
                        <td>{d.entry}</td>
                        <td className="num">{d.volume.toFixed(2)}</td>
                        <td className="num">{price(d.price)}</td>
                        <td className={`num ${signClass(d.profit)}`}>{money(d.profit)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
          }}
        </QueryView>
      )}
    </section>
  );
}
