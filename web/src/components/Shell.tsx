// The signed-in frame: navigation, the stream's state, who is signed in, sign-out.
import type { ReactNode } from 'react';
import { NavLink } from 'react-router-dom';
import { isAdmin, useAuth } from '../auth/AuthProvider';
import { useLive } from '../live/LiveProvider';

export function Shell({ children }: { children: ReactNode }) {
  const { session, token } = useAuth();
  const { status } = useLive();
  const signOut = async () => {
    await session.logout();
    window.location.assign('/');
  };
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Permiso</span>
        <nav aria-label="Main">
          <NavLink to="/" end>
            Trade
          </NavLink>
          <NavLink to="/history">History</NavLink>
          <NavLink to="/sessions">Sessions</NavLink>
          {isAdmin(token) && <NavLink to="/admin">Admin</NavLink>}
        </nav>
        <span className={`stream ${status}`} role="status" title="Live data">
          <span className="dot" aria-hidden="true" />
          {status === 'live' ? 'Live' : status === 'connecting' ? 'Connecting' : 'Offline'}
        </span>
        <button type="button" className="ghost" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" className="content">
        {children}
      </main>
    </div>
  );
}
