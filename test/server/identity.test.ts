import { describe, expect, it } from 'vitest';
import { signSync } from '../../src/core/ed25519.ts';
import { identityFromSeed } from '../../src/server/identity.ts';

describe('server identity signer', () => {
  it('under Node signs with OpenSSL, synchronously, byte for byte what the pure signer produces', async () => {
    for (const fill of [0, 7, 255]) {
      const seed = new Uint8Array(32).map((_, i) => (i * 31 + fill) & 0xff);
      const id = await identityFromSeed(seed);
      // Not WebCrypto: its signatures queue on libuv's pool behind every verification in flight.
      expect(id.signer).toBe('node');
      for (const text of ['', 'hello', 'x'.repeat(5000), 'é🙂']) {
        const msg = new TextEncoder().encode(text);
        expect(await id.sign(msg)).toEqual(signSync(msg, seed));
      }
    }
  });
});
