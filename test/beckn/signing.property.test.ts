// Properties of BECKN-006 signing with real ed25519 keys: sign → verify round-trips for any body and
// any key in either private-key form, and any single-byte change of the body or of the header makes
// verification fail (with a FlexError, never a crash).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { signerFromPrivateKey } from '../../src/adapters/keystore-file/keystore.ts';
import { staticKeyResolver } from '../../src/beckn/key-resolver.ts';
import { keyPairFromPrivateBase64 } from '../../src/beckn/keys.ts';
import { signBody } from '../../src/beckn/signing.ts';
import { verifyRequest } from '../../src/beckn/verify.ts';
import { FlexError } from '../../src/errors.ts';

const NOW_S = 1_800_000_000;
const seeds = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));

const setup = (seed: Buffer, libsodium: boolean) => {
  const pair = keyPairFromPrivateBase64(seed.toString('base64'));
  const privateKey = libsodium
    ? Buffer.concat([seed, Buffer.from(pair.publicKeyBase64, 'base64')]).toString('base64')
    : seed.toString('base64');
  const signer = signerFromPrivateKey('bap.example', 'k1', privateKey);
  return {
    signer,
    resolver: staticKeyResolver([
      { subscriberId: 'bap.example', uniqueKeyId: 'k1', publicKeyBase64: pair.publicKeyBase64, url: '' },
    ]),
  };
};

const sign = (signer: ReturnType<typeof setup>['signer'], body: Uint8Array) =>
  signBody({
    body,
    subscriberId: signer.subscriberId,
    uniqueKeyId: signer.uniqueKeyId,
    created: NOW_S,
    expires: NOW_S + 30,
    sign: (d) => signer.sign(d),
  }).header;

const fails = async (
  body: Uint8Array,
  header: string,
  resolver: ReturnType<typeof setup>['resolver'],
): Promise<boolean> => {
  try {
    await verifyRequest(body, header, resolver, NOW_S * 1000);
    return false;
  } catch (e) {
    if (!(e instanceof FlexError)) throw e;
    return true;
  }
};

test('property: sign → verify round-trips for random bodies and keys, in both private-key forms', async () => {
  await fc.assert(
    fc.asyncProperty(seeds, fc.boolean(), fc.uint8Array({ maxLength: 2048 }), async (seed, libsodium, body) => {
      const { signer, resolver } = setup(seed, libsodium);
      const { key } = await verifyRequest(body, sign(signer, body), resolver, NOW_S * 1000);
      return key.subscriberId === 'bap.example';
    }),
    { numRuns: 100 },
  );
});

test('property: changing any single byte of the body makes verification fail', async () => {
  await fc.assert(
    fc.asyncProperty(
      seeds,
      fc.uint8Array({ minLength: 1, maxLength: 1024 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      async (seed, body, at, flip) => {
        const { signer, resolver } = setup(seed, false);
        const header = sign(signer, body);
        const changed = Buffer.from(body);
        const i = at % changed.length;
        changed[i] = (changed[i] as number) ^ flip;
        return fails(changed, header, resolver);
      },
    ),
    { numRuns: 100 },
  );
});

test('property: changing any single character of the header makes verification fail', async () => {
  await fc.assert(
    fc.asyncProperty(
      seeds,
      fc.uint8Array({ maxLength: 512 }),
      fc.nat(),
      fc.integer({ min: 0x20, max: 0x7e }),
      async (seed, body, at, code) => {
        const { signer, resolver } = setup(seed, false);
        const header = sign(signer, body);
        const i = at % header.length;
        const replacement = String.fromCharCode(code);
        fc.pre(header[i] !== replacement);
        // Every character is covered by the signature or by a strict format check (canonical base64
        // included), so no single change leaves a header that still verifies.
        return fails(body, header.slice(0, i) + replacement + header.slice(i + 1), resolver);
      },
    ),
    { numRuns: 300 },
  );
});

test('a space after each comma (as in the BECKN-006 gateway example) is the same header and verifies; a non-canonical base64 signature is refused', async () => {
  const { signer, resolver } = setup(Buffer.alloc(32, 7), false);
  const body = Buffer.from('{"a":1}');
  const header = sign(signer, body);
  // BECKN-006's gateway example puts a space after each comma; that is the same header.
  await assert.doesNotReject(verifyRequest(body, header.replace(/",/g, '", '), resolver, NOW_S * 1000));
  // The last base64 character before "==" carries 4 unused bits: flipping one spells the same bytes.
  const sig = /signature="([^"]+)"/.exec(header)?.[1] as string;
  const last = sig[85] as string;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const sameBytes = `${sig.slice(0, 85)}${alphabet[alphabet.indexOf(last) ^ 1]}==`;
  assert.deepEqual(Buffer.from(sameBytes, 'base64'), Buffer.from(sig, 'base64'));
  await assert.rejects(
    verifyRequest(body, header.replace(sig, sameBytes), resolver, NOW_S * 1000),
    /not canonical base64/,
  );
});
