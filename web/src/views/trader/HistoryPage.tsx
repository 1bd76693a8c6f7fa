// Closed trades and deals, filtered by symbol and period.
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { listOf } from '../../api/client';
import type { Deal, Trade } from '../../api/types';
import { useAuth } from '../../auth/AuthProvider';
import { money, price, signClass, time } from '../../components/format';
import { DataTable, type Column } from '../../components/DataTable';
import { Empty, QueryView } from '../../components/states';

const TRADE_COLUMNS: Column<Trade>[] = [
  { header: '#', cell: (t) => t.id },
  { header: 'Symbol', cell: (t) => t.symbol },
  { header: 'Side', cell: (t) => t.type, className: (t) => t.type },
  { header: 'Volume', cell: (t) => t.volume.toFixed(2), numeric: true },
  { header: 'Open', cell: (t) => price(t.open_price), numeric: true },
  { header: 'Close', cell: (t) => price(t.close_price), numeric: true },
  { header: 'Profit', cell: (t) => money(t.profit), numeric: true, className: (t) => signClass(t.profit) },
  { header: 'Opened', cell: (t) => time(t.open_time) },
  { header: 'Closed', cell: (t) => time(t.close_time) },
];

const DEAL_COLUMNS: Column<Deal>[] = [
  { header: 'Deal', cell: (d) => d.id },
  { header: 'Time', cell: (d) => time(d.time) },
  { header: 'Symbol', cell: (d) => d.symbol || '—' },
  { header: 'Type', cell: (d) => d.type },
  { header: 'Entry', cell: (d) => d.entry },
  { header: 'Volume', cell: (d) => d.volume.toFixed(2), numeric: true },
  { header: 'Price', cell: (d) => price(d.price), numeric: true },
  { header: 'Profit', cell: (d) => money(d.profit), numeric: true, className: (d) => signClass(d.profit) },
];

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
              <DataTable
                columns={TRADE_COLUMNS}
                rows={rows}
                rowKey={(t) => t.id}
                rowData={(t) => ({ 'trade-id': t.id })}
                testId="history"
              />
            );
          }}
        </QueryView>
      ) : (
        <QueryView query={deals}>
          {(all) => {
            const rows = all.filter((d) => match(d.symbol));
            if (rows.length === 0) return <Empty>No deals in this period.</Empty>;
            return <DataTable columns={DEAL_COLUMNS} rows={rows} rowKey={(d) => d.id} />;
          }}
        </QueryView>
      )}
    </section>
  );
}
