// The session and the API client for the whole app. On load it asks for a token with the
// refresh cookie (a reload keeps the person signed in without any token in storage).
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { Api } from '../api/client';
import { Session, type AccessToken } from './session';

interface AuthState {
  session: Session;
  api: Api;
  token: AccessToken | null;
  /** true until the first silent refresh has answered */
  restoring: boolean;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children, session }: { children: ReactNode; session?: Session }) {
  const value = useMemo(() => {
    const s = session ?? new Session();
    return { session: s, api: new Api(s) };
  }, [session]);
  const [token, setToken] = useState<AccessToken | null>(value.session.token);
  const [restoring, setRestoring] = useState(!value.session.token);

  useEffect(() => value.session.subscribe(setToken), [value.session]);
  useEffect(() => {
    if (window.location.pathname.startsWith('/auth/callback') || value.session.token) {
      setRestoring(false);
      return;
    }
    void value.session
      .refresh()
      .catch(() => null)
      .finally(() => setRestoring(false));
  }, [value.session]);

  return <AuthContext.Provider value={{ ...value, token, restoring }}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error('useAuth outside AuthProvider');
  return state;
}

export const ADMIN_SCOPES = ['admin:users', 'admin:clients', 'admin:system', 'admin:audit'];

export function hasScope(token: AccessToken | null, scope: string): boolean {
  return token?.scopes.includes(scope) ?? false;
}

export function isAdmin(token: AccessToken | null): boolean {
  return ADMIN_SCOPES.some((s) => hasScope(token, s));
}
