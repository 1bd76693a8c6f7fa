import { describe, expect, it } from 'vitest';
import { base64url, randomVerifier, s256Challenge } from './pkce';

describe('pkce', () => {
  it('computes the RFC 7636 appendix B challenge', async () => {
    // RFC 7636 Appendix B: the verifier and the S256 challenge it must give.
    expect(await s256Challenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('makes 43-character unreserved verifiers that differ', () => {
    const a = randomVerifier();
    const b = randomVerifier();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
  });

  it('writes base64url without padding', () => {
    expect(base64url(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
  });
});
