// W3C Trace Context (level 1) for the dashboard's calls: each API call starts a trace that
// nginx, permiso-auth and mt5-api continue, so the reference a refusal shows finds every
// access-log and audit line of that click.

/** `bytes` random bytes as lower-case hex, never all zero (which §3.2.2.3 forbids for both ids). */
function nonZeroHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  do crypto.getRandomValues(buf);
  while (buf.every((b) => b === 0));
  return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A fresh trace id: 32 lower-case hex digits. */
export function newTraceId(): string {
  return nonZeroHex(16);
}

/** The `traceparent` of one attempt of a call: version 00, a fresh parent id, sampled. */
export function traceparent(traceId: string): string {
  return `00-${traceId}-${nonZeroHex(8)}-01`;
}
