// The shapes both services answer with (docs/api.md, docs/mt5-api.md).

export interface Trade {
  id: number;
  symbol: string;
  volume: number;
  type: 'buy' | 'sell';
  open_price: number;
  current_price: number;
  profit: number;
  stop_loss: number | null;
  take_profit: number | null;
  open_time: string;
  close_time: string | null;
  close_price: number;
  status: 'open' | 'closed';
  comment: string;
}

export interface Account {
  balance: number;
  equity: number;
  margin: number;
  free_margin: number;
  margin_level: number;
  currency: string;
  leverage: number;
  profit: number;
}

export interface Quote {
  symbol: string;
  bid: number;
  ask: number;
  spread: number;
  last_update: string;
}

export interface SymbolSpec {
  symbol: string;
  description: string;
  currency_base: string;
  currency_profit: string;
  digits: number;
  point: number;
  contract_size?: number;
  trade_contract_size?: number;
  volume_min?: number;
  volume_max?: number;
  volume_step?: number;
}

export interface Bar {
  time: string;
  timestamp: number; // Unix seconds
  open: number;
  high: number;
  low: number;
  close: number;
}

export interface Deal {
  id: number;
  symbol: string;
  type: string;
  entry: string;
  volume: number;
  price: number;
  profit: number;
  time: string;
  position_id: number | null;
  comment: string;
}

export interface NewOrder {
  symbol: string;
  volume: number;
  trade_type: 'buy' | 'sell';
  stop_loss?: number;
  take_profit?: number;
  comment?: string;
}

export interface ServiceClient {
  client_id: string;
  name: string;
  description: string;
  client_type: 'confidential' | 'public';
  is_active: boolean;
  is_trusted: boolean;
  access_token_lifetime: number;
  scopes: string[];
  redirect_uris: string[];
  created_at: string;
  last_used_at: string | null;
}

export interface Role {
  id: number;
  name: string;
  description: string;
  scopes?: ScopeInfo[];
}

export interface ScopeInfo {
  id: number;
  name: string;
  description: string;
  resource: string;
  action: string;
}

export interface User {
  id: number;
  username: string;
  email: string;
  full_name: string;
  is_active: boolean;
  is_superuser: boolean;
  last_login: string | null;
  created_at: string;
  roles: { id: number; name: string }[];
  scopes: string[];
}

export interface SessionInfo {
  id: string;
  client_id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string;
  user_agent: string;
  current: boolean;
}

export interface AuditEvent {
  id: number;
  timestamp: string;
  actor: string;
  actor_type: string;
  action: string;
  target: string;
  ip: string;
  outcome: string;
  details: unknown;
}

export interface SigningKey {
  kid: string;
  algorithm?: string;
  alg?: string;
  status?: string;
  state?: string;
  created_at?: string;
  not_before?: string;
  retire_after?: string | null;
}

export interface Paged<K extends string, T> {
  total: number;
  page: number;
  per_page: number;
  pages: number;
  items: Record<K, T[]>;
}
