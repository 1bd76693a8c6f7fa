// Users: search, create, enable or disable, roles.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { listOf } from '../../api/client';
import type { Role, User } from '../../api/types';
import { useAuth } from '../../auth/AuthProvider';
import { time } from '../../components/format';
import { DataTable } from '../../components/DataTable';
import { SESSION_COLUMNS } from '../../components/sessionColumns';
import { FormFooter, SearchBox } from '../../components/forms';
import { Empty, ErrorState, QueryView } from '../../components/states';

export function UsersView() {
  const { api } = useAuth();
  const client = useQueryClient();
  const [search, setSearch] = useState('');
  const [inspected, setInspected] = useState<User | null>(null);
  const users = useQuery({ queryKey: ['admin', 'users', search], queryFn: async () => (await api.users(search)).users });
  const roles = useQuery({ queryKey: ['admin', 'roles'], queryFn: async () => listOf<Role>(await api.roles(), 'roles') });
  const refresh = () => void client.invalidateQueries({ queryKey: ['admin', 'users'] });
  const toggle = useMutation({
    mutationFn: (u: User) => api.updateUser(u.id, { is_active: !u.is_active }),
    onSuccess: refresh,
  });
  const setRole = useMutation({
    mutationFn: ({ u, roleId }: { u: User; roleId: number }) => api.setUserRoles(u.id, [roleId]),
    onSuccess: refresh,
  });
  return (
    <section className="panel" aria-labelledby="users-title">
      <h1 id="users-title">Users</h1>
      <CreateUser onCreated={refresh} />
      <SearchBox value={search} onChange={setSearch} name="user-search" />
      {(toggle.error ?? setRole.error) && <ErrorState error={toggle.error ?? setRole.error} />}
      <QueryView query={users} empty={(u) => (u.length === 0 ? <Empty>No users match.</Empty> : null)}>
        {(list) => (
          <DataTable
            rows={list}
            rowKey={(u) => u.id}
            columns={[
              {
                header: 'User',
                cell: (u) => (
                  <>
                    <strong>{u.username}</strong>
                    <div className="muted">{u.full_name}</div>
                  </>
                ),
              },
              { header: 'Email', cell: (u) => u.email },
              {
                header: 'Role',
                cell: (u) => (
                  <select
                    aria-label={`Role of ${u.username}`}
                    value={u.roles[0]?.id ?? ''}
                    onChange={(e) => setRole.mutate({ u, roleId: Number(e.target.value) })}
                  >
                    {u.roles.length === 0 && <option value="">none</option>}
                    {(roles.data ?? []).map((r) => (
                      <option key={r.id} value={r.id}>
                        {r.name}
                      </option>
                    ))}
                  </select>
                ),
              },
              { header: 'Status', cell: (u) => (u.is_active ? 'active' : <span className="down">disabled</span>) },
              { header: 'Last sign-in', cell: (u) => time(u.last_login) },
              {
                header: '',
                cell: (u) => (
                  <>
                    <button type="button" className="ghost" onClick={() => setInspected(u)}>
                      Sessions
                    </button>
                    <button type="button" className="ghost" onClick={() => toggle.mutate(u)}>
                      {u.is_active ? 'Disable' : 'Enable'}
                    </button>
                  </>
                ),
              },
            ]}
          />
        )}
      </QueryView>
      {inspected && <UserSessions user={inspected} onClose={() => setInspected(null)} />}
    </section>
  );
}

/** Where a user is signed in, and ending all of it (a lost device, a departure). */
function UserSessions({ user, onClose }: { user: User; onClose: () => void }) {
  const { api } = useAuth();
  const client = useQueryClient();
  const sessions = useQuery({
    queryKey: ['admin', 'user-sessions', user.id],
    queryFn: async () => (await api.userSessions(user.id)).sessions,
  });
  const endAll = useMutation({
    mutationFn: () => api.endUserSessions(user.id),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['admin', 'user-sessions', user.id] }),
  });
  return (
    <section className="card-form wide-form" aria-labelledby="user-sessions-title">
      <h2 id="user-sessions-title">Sessions of {user.username}</h2>
      {endAll.error && <ErrorState error={endAll.error} />}
      <QueryView query={sessions} empty={(s) => (s.length === 0 ? <Empty>No live sessions.</Empty> : null)}>
        {(list) => (
          <DataTable
            rows={list}
            rowKey={(s) => s.id}
            columns={SESSION_COLUMNS}
          />
        )}
      </QueryView>
      <div className="row">
        <button type="button" className="danger" disabled={endAll.isPending} onClick={() => endAll.mutate()}>
          End every session
        </button>
        <button type="button" className="ghost" onClick={onClose}>
          Close
        </button>
      </div>
    </section>
  );
}

function CreateUser({ onCreated }: { onCreated: () => void }) {
  const { api } = useAuth();
  const [open, setOpen] = useState(false);
  const [form, setForm] = useState({ username: '', email: '', password: '' });
  const create = useMutation({
    mutationFn: () => api.createUser(form),
    onSuccess: () => {
      setOpen(false);
      setForm({ username: '', email: '', password: '' });
      onCreated();
    },
  });
  if (!open) {
    return (
      <button type="button" className="primary" onClick={() => setOpen(true)}>
        New user
      </button>
    );
  }
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const input = (key: keyof typeof form, label: string, type = 'text') => (
    <label className="field">
      <span>{label}</span>
      <input type={type} value={form[key]} onChange={(e) => setForm({ ...form, [key]: e.target.value })} required autoComplete="off" />
    </label>
  );
  return (
    <form className="card-form" onSubmit={submit} aria-label="New user">
      {input('username', 'Username')}
      {input('email', 'Email', 'email')}
      {input('password', 'Initial password', 'password')}
      <FormFooter error={create.error} busy={create.isPending} submit="Create" onCancel={() => setOpen(false)} />
    </form>
  );
}
