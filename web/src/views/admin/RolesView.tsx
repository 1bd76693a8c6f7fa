// Roles with their scopes, and every scope.
import { useQuery } from '@tanstack/react-query';
import { listOf } from '../../api/client';
import type { Role, ScopeInfo } from '../../api/types';
import { useAuth } from '../../auth/AuthProvider';
import { DataTable } from '../../components/DataTable';
import { QueryView } from '../../components/states';

export function RolesView() {
  const { api } = useAuth();
  const roles = useQuery({ queryKey: ['admin', 'roles'], queryFn: async () => listOf<Role>(await api.roles(), 'roles') });
  const scopes = useQuery({
    queryKey: ['admin', 'scopes'],
    queryFn: async () => listOf<ScopeInfo>(await api.scopes(), 'scopes'),
  });
  return (
    <div className="two-col">
      <section className="panel" aria-labelledby="roles-title">
        <h1 id="roles-title">Roles</h1>
        <QueryView query={roles}>
          {(list) => (
            <ul className="plain">
              {list.map((r) => (
                <li key={r.id}>
                  <strong>{r.name}</strong> <span className="muted">{r.description}</span>
                  <div className="scopes">{(r.scopes ?? []).map((s) => s.name).join(' ') || '—'}</div>
                </li>
              ))}
            </ul>
          )}
        </QueryView>
      </section>
      <section className="panel" aria-labelledby="scopes-title">
        <h1 id="scopes-title">Scopes</h1>
        <QueryView query={scopes}>
          {(list) => (
            <DataTable
              rows={list}
              rowKey={(s) => s.id}
              columns={[
                { header: 'Scope', cell: (s) => s.name },
                { header: 'Description', cell: (s) => s.description },
              ]}
            />
          )}
        </QueryView>
      </section>
    </div>
  );
}
