// Loading, empty and error states, the same everywhere.
import type { ReactNode } from 'react';
import { ApiError } from '../api/client';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state empty">{children}</div>;
}

/** The refusal in words. A failure of the server (5xx) also names its reference, the call's
 * trace id, which finds its log and audit lines for whoever the user reports it to; a refusal
 * of the request itself (4xx) says all there is to say. */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    return error.status >= 500 && error.traceId ? `${error.message} (reference ${error.traceId})` : error.message;
  }
  if (error instanceof Error) return error.message;
  return 'Something went wrong.';
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div className="state error" role="alert">
      <span>{errorText(error)}</span>
      {retry && (
        <button type="button" className="link" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Renders a query's three states, then `children` with its data. */
export function QueryView<T>({
  query,
  empty,
  children,
}: {
  query: { data: T | undefined; error: unknown; isPending: boolean; refetch: () => unknown };
  empty?: (data: T) => ReactNode | null;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading />;
  if (query.error) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const data = query.data as T;
  const nothing = empty?.(data);
  return <>{nothing ?? children(data)}</>;
}
