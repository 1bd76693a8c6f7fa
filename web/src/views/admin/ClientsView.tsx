// Service clients: search, create with scopes, the secret shown once (with a copy button),
// rotate with a grace period, enable or disable, delete.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { listOf } from '../../api/client';
import type { ScopeInfo, ServiceClient } from '../../api/types';
import { useAuth } from '../../auth/AuthProvider';
import { time } from '../../components/format';
import { DataTable } from '../../components/DataTable';
import { FormFooter, ScopePicker, SearchBox } from '../../components/forms';
import { Empty, ErrorState, QueryView } from '../../components/states';

export function ClientsView() {
  const { api } = useAuth();
  const client = useQueryClient();
  const [search, setSearch] = useState('');
  const [secret, setSecret] = useState<{ clientId: string; secret: string } | null>(null);
  const clients = useQuery({ queryKey: ['admin', 'clients'], queryFn: async () => (await api.clients()).clients });
  const refresh = () => void client.invalidateQueries({ queryKey: ['admin', 'clients'] });
  const action = useMutation({
    mutationFn: async ({ kind, c }: { kind: 'rotate' | 'toggle' | 'delete'; c: ServiceClient }) => {
      if (kind === 'rotate') {
        const r = await api.rotateSecret(c.client_id, 3600);
        setSecret({ clientId: c.client_id, secret: r.client_secret });
      } else if (kind === 'toggle') {
        await api.updateClient(c.client_id, { is_active: !c.is_active });
      } else {
        await api.deleteClient(c.client_id);
      }
    },
    onSuccess: refresh,
  });
  const q = search.trim().toLowerCase();

  return (
    <section className="panel" aria-labelledby="clients-title">
      <h1 id="clients-title">Service clients</h1>
      {secret && <SecretOnce {...secret} onDone={() => setSecret(null)} />}
      <CreateClient
        onCreated={(clientId, s) => {
          setSecret({ clientId, secret: s });
          refresh();
        }}
      />
      <SearchBox value={search} onChange={setSearch} name="client-search" />
      {action.error && <ErrorState error={action.error} />}
      <QueryView query={clients}>
        {(all) => {
          const rows = all.filter((c) => !q || c.client_id.toLowerCase().includes(q) || c.name.toLowerCase().includes(q));
          if (rows.length === 0) return <Empty>No service clients match.</Empty>;
          return (
            <DataTable
              rows={rows}
              rowKey={(c) => c.client_id}
              rowData={(c) => ({ 'client-id': c.client_id })}
              testId="clients"
              columns={[
                {
                  header: 'Client',
                  cell: (c) => (
                    <>
                      <strong>{c.client_id}</strong>
                      <div className="muted">{c.name}</div>
                    </>
                  ),
                },
                { header: 'Type', cell: (c) => c.client_type },
                { header: 'Scopes', cell: (c) => c.scopes.join(' ') || '—', className: () => 'scopes' },
                { header: 'Status', cell: (c) => (c.is_active ? 'active' : <span className="down">disabled</span>) },
                { header: 'Last used', cell: (c) => time(c.last_used_at) },
                { header: '', cell: (c) => <ClientActions client={c} act={(kind) => action.mutate({ kind, c })} /> },
              ]}
            />
          );
        }}
      </QueryView>
    </section>
  );
}

function ClientActions({ client: c, act }: { client: ServiceClient; act: (kind: 'rotate' | 'toggle' | 'delete') => void }) {
  return (
    <>
      {c.client_type === 'confidential' && (
        <button type="button" className="ghost" onClick={() => act('rotate')}>
          Rotate secret
        </button>
      )}
      <button type="button" className="ghost" onClick={() => act('toggle')}>
        {c.is_active ? 'Disable' : 'Enable'}
      </button>
      <button
        type="button"
        className="danger"
        onClick={() => {
          if (window.confirm(`Delete ${c.client_id}? Its tokens stop working at once.`)) act('delete');
        }}
      >
        Delete
      </button>
    </>
  );
}

/** The secret exists in clear only in this answer: shown once, copyable, then gone. */
function SecretOnce({ clientId, secret, onDone }: { clientId: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="secret-once" role="alert" data-testid="secret-once">
      <p>
        The secret of <strong>{clientId}</strong>. Copy it now: it is not shown again.
      </p>
      <code data-testid="client-secret">{secret}</code>
      <div className="row">
        <button
          type="button"
          className="primary"
          onClick={() => void navigator.clipboard?.writeText(secret).then(() => setCopied(true))}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" className="ghost" onClick={onDone}>
          I have stored it
        </button>
      </div>
    </div>
  );
}

function CreateClient({ onCreated }: { onCreated: (clientId: string, secret: string) => void }) {
  const { api } = useAuth();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [clientId, setClientId] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const scopes = useQuery({
    queryKey: ['admin', 'scopes'],
    queryFn: async () => listOf<ScopeInfo>(await api.scopes(), 'scopes'),
    enabled: open,
  });
  const create = useMutation({
    mutationFn: () =>
      api.createClient({ name, ...(clientId ? { client_id: clientId } : {}), scope_ids: chosen, client_type: 'confidential' }),
    onSuccess: (r) => {
      onCreated(r.client.client_id, r.client_secret);
      setOpen(false);
      setName('');
      setClientId('');
      setChosen([]);
    },
  });
  if (!open) {
    return (
      <button type="button" className="primary" onClick={() => setOpen(true)}>
        New service client
      </button>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="card-form" onSubmit={submit} aria-label="New service client">
      <label className="field">
        <span>Name</span>
        <input value={name} onChange={(e) => setName(e.target.value)} required name="client-name" />
      </label>
      <label className="field">
        <span>Client id (optional)</span>
        <input value={clientId} onChange={(e) => setClientId(e.target.value)} name="client-id" placeholder="generated" />
      </label>
      <ScopePicker
        legend="Scopes"
        scopes={scopes.data ?? []}
        chosen={chosen}
        onChange={setChosen}
        loading={scopes.isPending}
      />
      <FormFooter error={create.error} busy={create.isPending} submit="Create" onCancel={() => setOpen(false)} />
    </form>
  );
}
