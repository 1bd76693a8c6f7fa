// The live stream for the signed-in frame: quotes by symbol, and trade and account events
// that refresh the queries they change.
import { useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { Quote } from '../api/types';
import { Stream, streamUrl, type StreamMessage, type StreamStatus } from '../api/stream';
import { useAuth } from '../auth/AuthProvider';

interface Live {
  quotes: ReadonlyMap<string, Quote>;
  status: StreamStatus;
  watch: (symbols: string[]) => void;
}

const LiveContext = createContext<Live | null>(null);

export function LiveProvider({ children }: { children: ReactNode }) {
  const { session } = useAuth();
  const client = useQueryClient();
  const [quotes, setQuotes] = useState<ReadonlyMap<string, Quote>>(new Map());
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const stream = useRef<Stream | null>(null);

  const onMessage = useCallback(
    (m: StreamMessage) => {
      if (m.type === 'quote') {
        setQuotes((prev) => new Map(prev).set(m.quote.symbol, m.quote));
      } else if (m.type === 'trade' || m.type === 'deal') {
        void client.invalidateQueries({ queryKey: ['trades'] });
        void client.invalidateQueries({ queryKey: ['deals'] });
      } else if (m.type === 'account') {
        client.setQueryData(['account'], m.account);
      }
    },
    [client],
  );

  useEffect(() => {
    const s = new Stream({
      url: streamUrl(),
      token: () => session.token?.token ?? null,
      onMessage,
      onStatus: setStatus,
    });
    stream.current = s;
    s.start();
    return () => s.stop();
  }, [session, onMessage]);

  const value = useMemo<Live>(
    () => ({ quotes, status, watch: (symbols) => stream.current?.subscribe(symbols) }),
    [quotes, status],
  );
  return <LiveContext.Provider value={value}>{children}</LiveContext.Provider>;
}

export function useLive(): Live {
  const live = useContext(LiveContext);
  if (!live) throw new Error('useLive outside LiveProvider');
  return live;
}
