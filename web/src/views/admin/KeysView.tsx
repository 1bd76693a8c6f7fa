// Signing keys and their rotation (a new key is published before it signs).
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { listOf } from '../../api/client';
import type { SigningKey } from '../../api/types';
import { useAuth } from '../../auth/AuthProvider';
import { time } from '../../components/format';
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
          <table className="grid">
            <thead>
              <tr>
                <th scope="col">Key id</th>
                <th scope="col">Algorithm</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Retires</th>
              </tr>
            </thead>
            <tbody>
              {list.map((k) => (
                <tr key={k.kid}>
                  <td className="mono">{k.kid}</td>
                  <td>{k.alg ?? k.algorithm}</td>
                  <td>{k.state ?? k.status}</td>
                  <td>{time(k.created_at)}</td>
                  <td>{time(k.retire_after ?? null)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryView>
    </section>
  );
}
