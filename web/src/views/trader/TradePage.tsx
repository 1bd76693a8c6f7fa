// The trader's desk: account summary, chart, order ticket and open positions, all live.
import { useEffect, useMemo, useState } from 'react';
import { conversionSymbols, liveProfit } from '../../api/pnl';
import { useLive } from '../../live/LiveProvider';
import { AccountSummary } from './AccountSummary';
import { OrderTicket } from './OrderTicket';
import { Positions } from './Positions';
import { PriceChart } from './PriceChart';
import { specOf, useAccount, useOpenTrades, useSymbols } from './useMarket';

export function TradePage() {
  const [symbol, setSymbol] = useState('EURUSD');
  const symbols = useSymbols();
  const account = useAccount();
  const trades = useOpenTrades();
  const { quotes, watch } = useLive();
  const currency = account.data?.currency ?? 'USD';

  // Quotes for the chart, every open position, and what converts their profit.
  const needed = useMemo(() => {
    const set = new Set([symbol]);
    for (const t of trades.data ?? []) {
      set.add(t.symbol);
      const spec = specOf(symbols.data, t.symbol);
      if (spec) for (const c of conversionSymbols(spec, currency)) set.add(c);
    }
    const known = new Set((symbols.data ?? []).map((s) => s.symbol));
    return [...set].filter((s) => known.size === 0 || known.has(s));
  }, [symbol, trades.data, symbols.data, currency]);
  useEffect(() => watch(needed), [needed, watch]);

  const profits = useMemo(() => {
    const map = new Map<number, number>();
    for (const t of trades.data ?? []) map.set(t.id, liveProfit(t, specOf(symbols.data, t.symbol), currency, quotes));
    return map;
  }, [trades.data, symbols.data, currency, quotes]);
  const floating = [...profits.values()].reduce((a, b) => a + b, 0);

  return (
    <div className="desk">
      <h1 className="sr-only">Trading desk</h1>
      <section className="panel summary" aria-labelledby="account-title">
        <h2 id="account-title">Account</h2>
        <AccountSummary query={account} floating={trades.data ? floating : null} />
      </section>
      <section className="panel chart" aria-labelledby="chart-title">
        <h2 id="chart-title" className="sr-only">
          Price chart
        </h2>
        <PriceChart symbol={symbol} onSymbol={setSymbol} symbols={symbols.data ?? []} quote={quotes.get(symbol)} />
      </section>
      <section className="panel ticket" aria-labelledby="ticket-title">
        <h2 id="ticket-title">New order</h2>
        <OrderTicket symbol={symbol} onSymbol={setSymbol} symbols={symbols.data ?? []} quote={quotes.get(symbol)} />
      </section>
      <section className="panel positions" aria-labelledby="positions-title">
        <h2 id="positions-title">Open positions</h2>
        <Positions query={trades} profits={profits} quotes={quotes} symbols={symbols.data ?? []} currency={currency} />
      </section>
    </div>
  );
}
