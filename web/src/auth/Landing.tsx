import { useAuth } from './AuthProvider';

export function Landing() {
  const { session } = useAuth();
  const here = window.location.pathname + window.location.search;
  return (
    <main className="landing">
      <div className="card">
        <div className="brand">Permiso</div>
        <h1>Trading dashboard</h1>
        <p className="muted">Your account, positions and orders, live. Sign in with your Permiso account.</p>
        <button type="button" className="primary" autoFocus onClick={() => void session.beginSignIn(here)}>
          Sign in
        </button>
      </div>
    </main>
  );
}
