// Candlesticks from /market/{symbol}/rates, the last bar moved (or a new one begun) by live
// ticks. Timeframe and symbol are the trader's choice.
import { useQuery } from '@tanstack/react-query';
import { createChart, type IChartApi, type ISeriesApi, type UTCTimestamp } from 'lightweight-charts';
import { useEffect, useRef, useState } from 'react';
import { listOf } from '../../api/client';
import type { Bar, Quote, SymbolSpec } from '../../api/types';
import { useAuth } from '../../auth/AuthProvider';
import { price } from '../../components/format';
import { ErrorState, Loading } from '../../components/states';

const TIMEFRAMES: Record<string, number> = { M1: 60, M5: 300, M15: 900, H1: 3600, H4: 14400, D1: 86400 };

interface Props {
  symbol: string;
  onSymbol: (s: string) => void;
  symbols: SymbolSpec[];
  quote: Quote | undefined;
}

export function PriceChart({ symbol, onSymbol, symbols, quote }: Props) {
  const { api } = useAuth();
  const [timeframe, setTimeframe] = useState('M1');
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);
  const series = useRef<ISeriesApi<'Candlestick'> | null>(null);
  const last = useRef<{ time: number; open: number; high: number; low: number; close: number } | null>(null);
  const rates = useQuery({
    queryKey: ['rates', symbol, timeframe],
    queryFn: async () => listOf<Bar>(await api.rates(symbol, timeframe, 300), 'rates'),
  });
  const digits = symbols.find((s) => s.symbol === symbol)?.digits ?? 5;

  useEffect(() => {
    if (!box.current) return;
    const c = createChart(box.current, {
      autoSize: true,
      // The library's attribution logo injects a <style> element, which the CSP refuses: the
      // attribution is the link under the chart instead.
      layout: { background: { color: 'transparent' }, textColor: '#8b98a8', attributionLogo: false },
      grid: { vertLines: { color: '#1b2430' }, horzLines: { color: '#1b2430' } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: '#243040' },
      rightPriceScale: { borderColor: '#243040' },
    });
    chart.current = c;
    series.current = c.addCandlestickSeries({
      upColor: '#26a69a',
      downColor: '#ef5350',
      borderVisible: false,
      wickUpColor: '#26a69a',
      wickDownColor: '#ef5350',
    });
    return () => {
      c.remove();
      chart.current = null;
      series.current = null;
    };
  }, []);

  useEffect(() => {
    if (!series.current || !rates.data) return;
    const bars = rates.data.map((b) => ({ time: b.timestamp, open: b.open, high: b.high, low: b.low, close: b.close }));
    series.current.applyOptions({ priceFormat: { type: 'price', precision: digits, minMove: 10 ** -digits } });
    series.current.setData(bars.map((b) => ({ ...b, time: b.time as UTCTimestamp })));
    last.current = bars[bars.length - 1] ?? null;
    chart.current?.timeScale().scrollToRealTime();
  }, [rates.data, digits]);

  useEffect(() => {
    const bar = last.current;
    if (!quote || !series.current || !bar) return;
    const period = TIMEFRAMES[timeframe] ?? 60;
    const t = Math.floor(Date.parse(quote.last_update) / 1000 / period) * period;
    if (Number.isNaN(t) || t < bar.time) return;
    const next =
      t === bar.time
        ? { ...bar, high: Math.max(bar.high, quote.bid), low: Math.min(bar.low, quote.bid), close: quote.bid }
        : { time: t, open: bar.close, high: quote.bid, low: quote.bid, close: quote.bid };
    last.current = next;
    series.current.update({ ...next, time: next.time as UTCTimestamp });
  }, [quote, timeframe]);

  return (
    <div className="chart-box">
      <div className="chart-bar">
        <label className="field inline">
          <span className="sr-only">Symbol</span>
          <select value={symbol} onChange={(e) => onSymbol(e.target.value)} aria-label="Chart symbol">
            {symbols.map((s) => (
              <option key={s.symbol} value={s.symbol}>
                {s.symbol}
              </option>
            ))}
          </select>
        </label>
        <div className="segmented" role="group" aria-label="Timeframe">
          {Object.keys(TIMEFRAMES).map((tf) => (
            <button key={tf} type="button" aria-pressed={tf === timeframe} onClick={() => setTimeframe(tf)}>
              {tf}
            </button>
          ))}
        </div>
        <span className="quote" aria-live="off" data-testid="quote">
          <span className="down">{price(quote?.bid, digits)}</span> / <span className="up">{price(quote?.ask, digits)}</span>
        </span>
      </div>
      {rates.isPending && <Loading label="Loading prices…" />}
      {rates.error && <ErrorState error={rates.error} retry={() => void rates.refetch()} />}
      <div className="chart-canvas" ref={box} aria-label={`${symbol} ${timeframe} candlestick chart`} role="img" />
      <a className="attribution" href="https://www.tradingview.com/" target="_blank" rel="noreferrer noopener">
        Charts by TradingView Lightweight Charts™
      </a>
    </div>
  );
}
