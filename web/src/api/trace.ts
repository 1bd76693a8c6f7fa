// W3C Trace Context (level 1) for the dashboard's calls: each API call starts a trace that
// nginx, permiso-auth and mt5-api continue, so the reference a refusal shows finds every
// access-log and audit line of that click.

function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A fresh trace id: 32 lower-case hex digits, never all zero (which §3.2.2.3 forbids). */
export function newTraceId(): string {
  for (;;) {
    const id = randomHex(16);
    if (/[^0]/.test(id)) return id;
  }
}

/** The `traceparent` of one attempt of a call: version 00, a fresh parent id, sampled. */
export function traceparent(traceId: string): string {
  let parent = randomHex(8);
  while (!/[^0]/.test(parent)) parent = randomHex(8);
  return `00-${traceId}-${parent}-01`;
}
