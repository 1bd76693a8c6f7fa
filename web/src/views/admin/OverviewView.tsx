import { useQuery } from '@tanstack/react-query';
import { useAuth } from '../../auth/AuthProvider';
import { QueryView } from '../../components/states';

interface Stats {
  users?: { total: number; active: number; verified: number; locked: number };
  service_clients?: number;
  logins_24h?: number;
  failed_logins_24h?: number;
  signing_keys?: number;
  revocations_cached?: number;
  audit_dropped?: number;
}

export function OverviewView() {
  const { api } = useAuth();
  const stats = useQuery({ queryKey: ['admin', 'stats'], queryFn: async () => (await api.stats()) as Stats, refetchInterval: 10_000 });
  return (
    <section className="panel" aria-labelledby="overview-title">
      <h1 id="overview-title">System</h1>
      <QueryView query={stats}>
        {(s) => (
          <dl className="figures wide">
            {(
              [
                ['Users', s.users?.total],
                ['Active users', s.users?.active],
                ['Locked users', s.users?.locked],
                ['Service clients', s.service_clients],
                ['Sign-ins (24 h)', s.logins_24h],
                ['Failed sign-ins (24 h)', s.failed_logins_24h],
                ['Signing keys', s.signing_keys],
                ['Revocations cached', s.revocations_cached],
                ['Audit events dropped', s.audit_dropped],
              ] as [string, number | undefined][]
            ).map(([label, value]) => (
              <div key={label}>
                <dt>{label}</dt>
                <dd>{value ?? '—'}</dd>
              </div>
            ))}
          </dl>
        )}
      </QueryView>
    </section>
  );
}
