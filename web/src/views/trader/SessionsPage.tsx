// The signed-in person's sessions: where they are signed in, and ending any of them.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useAuth } from '../../auth/AuthProvider';
import { DataTable } from '../../components/DataTable';
import { SESSION_COLUMNS } from '../../components/sessionColumns';
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
          <DataTable
            rows={list}
            rowKey={(s) => s.id}
            columns={[
              ...SESSION_COLUMNS,
              {
                header: '',
                cell: (s) =>
                  s.current ? (
                    <span className="badge">This session</span>
                  ) : (
                    <button type="button" className="danger" onClick={() => end.mutate(s.id)}>
                      End
                    </button>
                  ),
              },
            ]}
          />
        )}
      </QueryView>
    </section>
  );
}
