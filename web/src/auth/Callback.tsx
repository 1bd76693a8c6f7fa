// Where permiso-auth sends the browser back: exchanges the code (with the PKCE verifier) for
// an access token in memory and the refresh cookie, then goes where the person was going.
import { useEffect, useRef, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { errorText, Loading } from '../components/states';
import { useAuth } from './AuthProvider';

export function Callback() {
  const { session } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return; // a code is single-use: StrictMode's second run must not spend it
    started.current = true;
    session
      .completeSignIn(window.location.search)
      .then((to) => navigate(to, { replace: true }))
      .catch((e: unknown) => setError(errorText(e)));
  }, [session, navigate]);

  if (!error) return <Loading label="Signing you in…" />;
  return (
    <main className="landing">
      <div className="card">
        <h1>Sign-in failed</h1>
        <p role="alert">{error}</p>
        <button type="button" className="primary" onClick={() => void session.beginSignIn('/')}>
          Sign in again
        </button>
      </div>
    </main>
  );
}
