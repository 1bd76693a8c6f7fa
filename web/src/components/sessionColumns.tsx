// How a session is shown, wherever sessions are listed (yours, or a user's for an admin).
import type { SessionInfo } from '../api/types';
import type { Column } from './DataTable';
import { time } from './format';

export const SESSION_COLUMNS: Column<SessionInfo>[] = [
  { header: 'Signed in', cell: (s) => time(s.created_at) },
  { header: 'Last seen', cell: (s) => time(s.last_seen_at) },
  { header: 'From', cell: (s) => s.ip },
  { header: 'Application', cell: (s) => s.client_id || 'permiso' },
  { header: 'Browser', cell: (s) => <span title={s.user_agent}>{s.user_agent}</span>, className: () => 'clip' },
];
