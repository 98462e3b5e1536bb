// Signature checks on worker threads give exactly the answers of the inline check, for valid and
// tampered bodies alike, and the receiver pipeline refuses with the same codes when it uses them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { signerFromPrivateKey } from '../../src/adapters/keystore-file/keystore.ts';
import { staticKeyResolver } from '../../src/beckn/key-resolver.ts';
import { keyPairFromPrivateBase64 } from '../../src/beckn/keys.ts';
import { blake512Base64, signBody } from '../../src/beckn/signing.ts';
import { createVerifierPool } from '../../src/beckn/verify-pool.ts';
import { verifyRequest } from '../../src/beckn/verify.ts';

const pool = createVerifierPool(2);
after(async () => {
  await pool.close();
});

test('property: the pool verifies what the inline check verifies, refuses what it refuses, and returns the same digest', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ maxLength: 1024 }),
      fc.boolean(),
      async (seed, body, tamper) => {
        const pair = keyPairFromPrivateBase64(Buffer.from(seed).toString('base64'));
        const s = signerFromPrivateKey('a', 'k', Buffer.from(seed).toString('base64'));
        const sig = signBody({
          body,
          subscriberId: 'a',
          uniqueKeyId: 'k',
          created: 100,
          expires: 200,
          sign: (d) => s.sign(d),
        }).signature;
        const checked = tamper ? Buffer.concat([Buffer.from(body), Buffer.from([1])]) : Buffer.from(body);
        const digest = await pool.check(checked, 100, 200, sig, pair.publicKeyBase64);
        return tamper ? digest === undefined : digest === blake512Base64(body);
      },
    ),
    { numRuns: 60 },
  );
});

test('verifyRequest with the pool: same key, same digest; a tampered body is FLX_SIG_INVALID', async () => {
  const seed = Buffer.alloc(32, 3).toString('base64');
  const s = signerFromPrivateKey('bap', 'k1', seed);
  const resolver = staticKeyResolver([
    { subscriberId: 'bap', uniqueKeyId: 'k1', publicKeyBase64: s.publicKeyBase64, url: '' },
  ]);
  const body = Buffer.from('{"context":{}}');
  const now = Math.floor(Date.now() / 1000);
  const header = signBody({
    body,
    subscriberId: 'bap',
    uniqueKeyId: 'k1',
    created: now,
    expires: now + 30,
    sign: (d) => s.sign(d),
  }).header;
  const viaPool = await verifyRequest(body, header, resolver, Date.now(), 5, pool.check);
  const inline = await verifyRequest(body, header, resolver, Date.now());
  assert.equal(viaPool.digest, inline.digest);
  assert.equal(viaPool.key.subscriberId, 'bap');
  await assert.rejects(
    verifyRequest(Buffer.from('{"context":{ }}'), header, resolver, Date.now(), 5, pool.check),
    (e) => (e as { code?: string }).code === 'FLX_SIG_INVALID',
  );
});
