/**
 * A FIXED KEY FOR TESTS ONLY. It is committed on purpose, so the recorded
 * histories in workflows/histories/ (encrypted like every drydock payload) can
 * be replayed, and processes a test starts share one key. It protects nothing:
 * never configure it as a real DRYDOCK_SECRET_KEY.
 */
import { createKeyring, parseKeys, type Keyring } from '../core/keyring.js';

export const TEST_ONLY_SECRET_KEY = 'gz/+eSG29leaWk3A7rxTBGQhdDdLepvhZVFRpClt0mY=';

export function testKeyring(): Keyring {
  return createKeyring(parseKeys(TEST_ONLY_SECRET_KEY, 'the test key'));
}
