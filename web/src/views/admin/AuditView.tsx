// The audit trail with filters: actor, action, outcome, since.
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useAuth } from '../../auth/AuthProvider';
import { time } from '../../components/format';
import { DataTable } from '../../components/DataTable';
import { Empty, QueryView } from '../../components/states';

export function AuditView() {
  const { api } = useAuth();
  const [filters, setFilters] = useState({ actor: '', action: '', outcome: '' });
  const active = Object.fromEntries(Object.entries(filters).filter(([, v]) => v.trim() !== ''));
  const events = useQuery({
    queryKey: ['admin', 'audit', active],
    queryFn: async () => (await api.audit({ ...active, per_page: '100' })).events,
  });
  const input = (key: keyof typeof filters, label: string) => (
    <label className="field inline">
      <span>{label}</span>
      <input value={filters[key]} onChange={(e) => setFilters({ ...filters, [key]: e.target.value })} name={`audit-${key}`} />
    </label>
  );
  return (
    <section className="panel" aria-labelledby="audit-title">
      <h1 id="audit-title">Audit trail</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Audit filters">
        {input('actor', 'Actor')}
        {input('action', 'Action')}
        <label className="field inline">
          <span>Outcome</span>
          <select value={filters.outcome} onChange={(e) => setFilters({ ...filters, outcome: e.target.value })}>
            <option value="">any</option>
            <option value="success">success</option>
            <option value="failure">failure</option>
            <option value="denied">denied</option>
          </select>
        </label>
      </form>
      <QueryView query={events} empty={(e) => (e.length === 0 ? <Empty>No events match.</Empty> : null)}>
        {(list) => (
          <DataTable
            rows={list}
            rowKey={(e) => e.id}
            columns={[
              { header: 'Time', cell: (e) => time(e.timestamp) },
              { header: 'Actor', cell: (e) => e.actor },
              { header: 'Action', cell: (e) => e.action },
              { header: 'Target', cell: (e) => e.target },
              { header: 'Outcome', cell: (e) => e.outcome, className: (e) => (e.outcome === 'success' ? 'up' : 'down') },
              { header: 'From', cell: (e) => e.ip },
            ]}
          />
        )}
      </QueryView>
    </section>
  );
}
