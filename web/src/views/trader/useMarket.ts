// Shared trading queries: instruments, the account, open trades.
import { useQuery } from '@tanstack/react-query';
import { listOf } from '../../api/client';
import type { SymbolSpec } from '../../api/types';
import { useAuth } from '../../auth/AuthProvider';

export function useSymbols() {
  const { api } = useAuth();
  return useQuery({
    queryKey: ['symbols'],
    queryFn: async () => listOf<SymbolSpec>(await api.symbols(), 'symbols'),
    staleTime: Infinity,
  });
}

export function useAccount() {
  const { api } = useAuth();
  return useQuery({ queryKey: ['account'], queryFn: () => api.account(), refetchInterval: 15_000 });
}

export function useOpenTrades() {
  const { api } = useAuth();
  return useQuery({ queryKey: ['trades', 'open'], queryFn: () => api.trades('open') });
}

export function specOf(symbols: SymbolSpec[] | undefined, symbol: string): SymbolSpec | undefined {
  return symbols?.find((s) => s.symbol === symbol);
}
