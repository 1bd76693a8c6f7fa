// The admin console: overview, service clients, users, roles and scopes, audit trail, signing
// keys. Each tab needs its admin scope; the API is the authority and refuses the rest.
import { NavLink, Navigate, Route, Routes } from 'react-router-dom';
import { hasScope, useAuth } from '../../auth/AuthProvider';
import { AuditView } from './AuditView';
import { ClientsView } from './ClientsView';
import { KeysView } from './KeysView';
import { OverviewView } from './OverviewView';
import { RolesView } from './RolesView';
import { UsersView } from './UsersView';

const TABS = [
  { path: 'overview', label: 'Overview', scope: 'admin:system', element: <OverviewView /> },
  { path: 'clients', label: 'Service clients', scope: 'admin:clients', element: <ClientsView /> },
  { path: 'users', label: 'Users', scope: 'admin:users', element: <UsersView /> },
  { path: 'roles', label: 'Roles & scopes', scope: 'admin:users', element: <RolesView /> },
  { path: 'audit', label: 'Audit trail', scope: 'admin:audit', element: <AuditView /> },
  { path: 'keys', label: 'Signing keys', scope: 'admin:system', element: <KeysView /> },
];

export function AdminPage() {
  const { token } = useAuth();
  const tabs = TABS.filter((t) => hasScope(token, t.scope));
  const first = tabs[0];
  return (
    <div className="admin">
      <nav className="tabs" aria-label="Administration">
        {tabs.map((t) => (
          <NavLink key={t.path} to={t.path}>
            {t.label}
          </NavLink>
        ))}
      </nav>
      <Routes>
        {tabs.map((t) => (
          <Route key={t.path} path={t.path} element={t.element} />
        ))}
        {first && <Route path="*" element={<Navigate to={first.path} replace />} />}
      </Routes>
    </div>
  );
}
