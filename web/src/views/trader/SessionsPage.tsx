// The signed-in person's sessions: where they are signed in, and ending any of them.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useAuth } from '../../auth/AuthProvider';
import { time } from '../../components/format';
import { Empty, ErrorState, QueryView } from '../../components/states';

export function SessionsPage() {
  const { api } = useAuth();
  const client = useQueryClient();
  const sessions = useQuery({ queryKey: ['my-sessions'], queryFn: async () => (await api.sessions()).sessions });
  const end = useMutation({
    mutationFn: (id: string) => api.endSession(id),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['my-sessions'] }),
  });
  return (
    <section className="panel" aria-labelledby="sessions-title">
      <h1 id="sessions-title">Your sessions</h1>
      {end.error && <ErrorState error={end.error} />}
      <QueryView query={sessions} empty={(s) => (s.length === 0 ? <Empty>No live sessions.</Empty> : null)}>
        {(list) => (
          <div className="table-wrap">
            <table className="grid">
              <thead>
                <tr>
                  <th scope="col">Signed in</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">From</th>
                  <th scope="col">Application</th>
                  <th scope="col">Browser</th>
                  <th scope="col"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {list.map((s) => (
                  <tr key={s.id}>
                    <td>{time(s.created_at)}</td>
                    <td>{time(s.last_seen_at)}</td>
                    <td>{s.ip}</td>
                    <td>{s.client_id || 'permiso'}</td>
                    <td className="clip" title={s.user_agent}>
                      {s.user_agent}
                    </td>
                    <td className="actions">
                      {s.current ? (
                        <span className="badge">This session</span>
                      ) : (
                        <button type="button" className="danger" onClick={() => end.mutate(s.id)}>
                          End
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </QueryView>
    </section>
  );
}
