// Roles with their scopes (edit which scopes a role grants, add a role), and every scope
// (add one). Changes apply to tokens issued from then on.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { listOf } from '../../api/client';
import type { Role, ScopeInfo } from '../../api/types';
import { useAuth } from '../../auth/AuthProvider';
import { DataTable } from '../../components/DataTable';
import { FormFooter, ScopePicker } from '../../components/forms';
import { QueryView } from '../../components/states';

function useRolesAndScopes() {
  const { api } = useAuth();
  const roles = useQuery({ queryKey: ['admin', 'roles'], queryFn: async () => listOf<Role>(await api.roles(), 'roles') });
  const scopes = useQuery({
    queryKey: ['admin', 'scopes'],
    queryFn: async () => listOf<ScopeInfo>(await api.scopes(), 'scopes'),
  });
  return { roles, scopes };
}

export function RolesView() {
  const { roles, scopes } = useRolesAndScopes();
  const [editing, setEditing] = useState<Role | null>(null);
  return (
    <div className="two-col">
      <section className="panel" aria-labelledby="roles-title">
        <h1 id="roles-title">Roles</h1>
        <NewNamed kind="role" />
        <QueryView query={roles}>
          {(list) => (
            <ul className="plain">
              {list.map((r) => (
                <li key={r.id}>
                  <strong>{r.name}</strong> <span className="muted">{r.description}</span>
                  <button type="button" className="link" onClick={() => setEditing(r)} aria-label={`Edit scopes of ${r.name}`}>
                    Edit scopes
                  </button>
                  <div className="scopes">{(r.scopes ?? []).map((s) => s.name).join(' ') || '—'}</div>
                  {editing?.id === r.id && (
                    <RoleScopes role={r} all={scopes.data ?? []} onDone={() => setEditing(null)} />
                  )}
                </li>
              ))}
            </ul>
          )}
        </QueryView>
      </section>
      <section className="panel" aria-labelledby="scopes-title">
        <h1 id="scopes-title">Scopes</h1>
        <NewNamed kind="scope" />
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

/** Which scopes a role grants, as checkboxes. */
function RoleScopes({ role, all, onDone }: { role: Role; all: ScopeInfo[]; onDone: () => void }) {
  const { api } = useAuth();
  const client = useQueryClient();
  const [chosen, setChosen] = useState<string[]>((role.scopes ?? []).map((s) => s.name));
  const save = useMutation({
    mutationFn: () => api.setRoleScopes(role.id, chosen),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['admin', 'roles'] });
      onDone();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <form className="card-form" onSubmit={submit} aria-label={`Scopes of ${role.name}`}>
      <ScopePicker legend={`Scopes of ${role.name}`} scopes={all} chosen={chosen} onChange={setChosen} />
      <FormFooter error={save.error} busy={save.isPending} submit="Save" onCancel={onDone} />
    </form>
  );
}

/** A new role or scope: a name and a description. */
function NewNamed({ kind }: { kind: 'role' | 'scope' }) {
  const { api } = useAuth();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const create = useMutation({
    mutationFn: () => (kind === 'role' ? api.createRole({ name, description }) : api.createScope({ name, description })),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['admin', kind === 'role' ? 'roles' : 'scopes'] });
      setOpen(false);
      setName('');
      setDescription('');
    },
  });
  if (!open) {
    return (
      <button type="button" className="primary" onClick={() => setOpen(true)}>
        New {kind}
      </button>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <form className="card-form" onSubmit={submit} aria-label={`New ${kind}`}>
      <label className="field">
        <span>Name{kind === 'scope' ? ' (resource:action)' : ''}</span>
        <input value={name} onChange={(e) => setName(e.target.value)} required name={`${kind}-name`} />
      </label>
      <label className="field">
        <span>Description</span>
        <input value={description} onChange={(e) => setDescription(e.target.value)} name={`${kind}-description`} />
      </label>
      <FormFooter error={create.error} busy={create.isPending} submit="Create" onCancel={() => setOpen(false)} />
    </form>
  );
}
