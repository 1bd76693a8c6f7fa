// Signing keys and their rotation (a new key is published before it signs).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { listOf } from '../../api/client';
import type { SigningKey } from '../../api/types';
import { useAuth } from '../../auth/AuthProvider';
import { time } from '../../components/format';
import { DataTable } from '../../components/DataTable';
import { ErrorState, QueryView } from '../../components/states';

export function KeysView() {
  const { api } = useAuth();
  const client = useQueryClient();
  const keys = useQuery({ queryKey: ['admin', 'keys'], queryFn: async () => listOf<SigningKey>(await api.keys(), 'keys') });
  const rotate = useMutation({
    mutationFn: () => api.rotateKeys(),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['admin', 'keys'] }),
  });
  return (
    <section className="panel" aria-labelledby="keys-title">
      <h1 id="keys-title">Signing keys</h1>
      <button type="button" className="primary" disabled={rotate.isPending} onClick={() => rotate.mutate()}>
        Rotate now
      </button>
      {rotate.error && <ErrorState error={rotate.error} />}
      <QueryView query={keys}>
        {(list) => (
          <DataTable
            rows={list}
            rowKey={(k) => k.kid}
            columns={[
              { header: 'Key id', cell: (k) => k.kid, className: () => 'mono' },
              { header: 'Algorithm', cell: (k) => k.alg ?? k.algorithm },
              { header: 'State', cell: (k) => k.state ?? k.status },
              { header: 'Created', cell: (k) => time(k.created_at) },
              { header: 'Retires', cell: (k) => time(k.retire_after ?? null) },
            ]}
          />
        )}
      </QueryView>
    </section>
  );
}
