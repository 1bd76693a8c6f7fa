// mt5-api's live stream over a WebSocket: quotes for the symbols subscribed, and the caller's
// own trade, deal and account events. The token travels in the subprotocol list ("bearer",
// token), never in the URL (where it would land in access logs). It reconnects with backoff,
// with whatever token the session holds then, and resubscribes.
import type { Account, Quote, Trade } from './types';

export type StreamMessage =
  | { type: 'welcome' }
  | { type: 'quote'; quote: Quote }
  | { type: 'trade'; event: 'opened' | 'updated' | 'closed'; trade: Trade }
  | { type: 'account'; account: Account }
  | { type: 'deal' | 'order' | 'subscribed' | 'unsubscribed' | 'pong' }
  | { type: 'error'; error: string; error_description: string };

export type StreamStatus = 'connecting' | 'live' | 'offline';

export interface StreamOptions {
  url: string;
  token: () => string | null;
  onMessage: (m: StreamMessage) => void;
  onStatus: (s: StreamStatus) => void;
  socket?: (url: string, protocols: string[]) => WebSocket;
}

export class Stream {
  private ws: WebSocket | null = null;
  private symbols = new Set<string>();
  private retry = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(private readonly options: StreamOptions) {}

  start(): void {
    this.closed = false;
    this.connect();
  }

  stop(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.close(1000);
    this.ws = null;
  }

  subscribe(symbols: string[]): void {
    const fresh = symbols.filter((s) => !this.symbols.has(s));
    for (const s of fresh) this.symbols.add(s);
    if (fresh.length > 0) this.send({ action: 'subscribe', symbols: fresh });
  }

  private connect(): void {
    const token = this.options.token();
    if (!token || this.closed) return;
    this.options.onStatus('connecting');
    const make = this.options.socket ?? ((url, protocols) => new WebSocket(url, protocols));
    const ws = make(this.options.url, ['bearer', token]);
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 0;
      this.options.onStatus('live');
      if (this.symbols.size > 0) this.send({ action: 'subscribe', symbols: [...this.symbols] });
    };
    ws.onmessage = (event: MessageEvent<string>) => {
      try {
        this.options.onMessage(JSON.parse(event.data) as StreamMessage);
      } catch {
        // a frame that is not JSON is ignored
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.options.onStatus('offline');
      if (this.closed) return;
      const delay = Math.min(30_000, 500 * 2 ** this.retry++);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  private send(message: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }
}

/** ws(s)://<this origin>/api/v1/stream */
export function streamUrl(location: Location = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/v1/stream`;
}
