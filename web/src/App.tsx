// Routes and the signed-in frame. Admin views are only routed for a token with an admin
// scope; the APIs refuse them to anyone else anyway.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router-dom';
import { AuthProvider, isAdmin, useAuth } from './auth/AuthProvider';
import { Callback } from './auth/Callback';
import { Landing } from './auth/Landing';
import { Loading } from './components/states';
import { Shell } from './components/Shell';
import { LiveProvider } from './live/LiveProvider';
import { AdminPage } from './views/admin/AdminPage';
import { HistoryPage } from './views/trader/HistoryPage';
import { SessionsPage } from './views/trader/SessionsPage';
import { TradePage } from './views/trader/TradePage';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 5_000 },
    mutations: { retry: false },
  },
});

function SignedIn() {
  const { token } = useAuth();
  return (
    <LiveProvider>
      <Shell>
        <Routes>
          <Route path="/" element={<TradePage />} />
          <Route path="/history" element={<HistoryPage />} />
          <Route path="/sessions" element={<SessionsPage />} />
          <Route path="/admin/*" element={isAdmin(token) ? <AdminPage /> : <Navigate to="/" replace />} />
          <Route path="*" element={<Navigate to="/" replace />} />
        </Routes>
      </Shell>
    </LiveProvider>
  );
}

function Gate() {
  const { token, restoring } = useAuth();
  if (restoring) return <Loading label="Restoring your session…" />;
  return token ? <SignedIn /> : <Landing />;
}

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <AuthProvider>
        <BrowserRouter>
          <Routes>
            <Route path="/auth/callback" element={<Callback />} />
            <Route path="*" element={<Gate />} />
          </Routes>
        </BrowserRouter>
      </AuthProvider>
    </QueryClientProvider>
  );
}
