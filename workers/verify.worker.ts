/// <reference lib="webworker" />
/**
 * A signature-verification helper of the homeserver worker (see
 * src/crypto/verify-pool.ts): the same strict verifier as the in-thread path.
 */
import { bestVerifier } from '../src/crypto/webcrypto-ed25519.ts';
import { serveVerifications } from '../src/crypto/verify-pool.ts';

serveVerifications(self, bestVerifier());
