import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blake512Base64, ed25519Signer, signBody, signingString, verifySignature } from '../../src/beckn/signing.ts';
import { keyPairFromPrivateBase64, publicKeyFromBase64 } from '../../src/beckn/keys.ts';
import { parseAuthorization } from '../../src/beckn/auth-header.ts';
import { readSharedJson } from '../helpers/shared.ts';

interface Vectors {
  blake2b512_known_answer: { input_utf8: string; blake2b512_base64: string };
  beckn006_bap_request_signature: {
    request_body_exact: string;
    signing_public_key_base64: string;
    signing_private_key_base64_libsodium64: string;
    signing_seed_base64_derived: string;
    created: number;
    expires: number;
    digest_base64: string;
    signing_string: string;
    signature_base64: string;
    authorization_header_value: string;
  };
  onix_benchmark_dev_keypair: { signing_private_key_seed_base64: string; signing_public_key_base64: string };
}

const vectors = readSharedJson<Vectors>('beckn', 'vectors', 'signing-test-vectors.json');
const v = vectors.beckn006_bap_request_signature;

test('BLAKE2b-512 known answer from BECKN-006 reproduces', () => {
  assert.equal(
    blake512Base64(vectors.blake2b512_known_answer.input_utf8),
    vectors.blake2b512_known_answer.blake2b512_base64,
  );
});

for (const [form, privateKey] of [
  ['64-byte libsodium key', v.signing_private_key_base64_libsodium64],
  ['32-byte seed', v.signing_seed_base64_derived],
] as const) {
  test(`BECKN-006 BAP request vector reproduces byte for byte (${form})`, () => {
    const keys = keyPairFromPrivateBase64(privateKey);
    assert.equal(keys.publicKeyBase64, v.signing_public_key_base64);
    const [subscriberId, uniqueKeyId] = ['example-bap.com', 'ae3ea24b-cfec-495e-81f8-044aaef164ac'];
    const signed = signBody({
      body: v.request_body_exact,
      subscriberId,
      uniqueKeyId,
      created: v.created,
      expires: v.expires,
      sign: ed25519Signer(keys.privateKey),
    });
    assert.equal(signed.digest, v.digest_base64);
    assert.equal(signed.signingString, v.signing_string);
    assert.equal(signed.signature, v.signature_base64);
    assert.equal(signed.header, v.authorization_header_value);
  });
}

test('the published header parses and its signature verifies with the published public key', () => {
  const params = parseAuthorization(v.authorization_header_value);
  assert.equal(params.subscriberId, 'example-bap.com');
  assert.equal(params.created, v.created);
  const str = signingString(params.created, params.expires, blake512Base64(v.request_body_exact));
  assert.ok(verifySignature(publicKeyFromBase64(v.signing_public_key_base64), str, params.signature));
  const tampered = signingString(
    params.created,
    params.expires,
    blake512Base64(v.request_body_exact.replace('Kochi', 'Kochj')),
  );
  assert.equal(verifySignature(publicKeyFromBase64(v.signing_public_key_base64), tampered, params.signature), false);
});

test('the beckn-onix dev seed derives its published public key', () => {
  const k = vectors.onix_benchmark_dev_keypair;
  assert.equal(
    keyPairFromPrivateBase64(k.signing_private_key_seed_base64).publicKeyBase64,
    k.signing_public_key_base64,
  );
});

test('a 64-byte key whose tail is not its public key is refused with a clear error', () => {
  const bad = Buffer.from(v.signing_private_key_base64_libsodium64, 'base64');
  bad[63] = (bad[63] ?? 0) ^ 1;
  assert.throws(() => keyPairFromPrivateBase64(bad.toString('base64')), /does not end with the public key/);
});

test('malformed headers are refused with a specific code, never a crash', () => {
  const cases: [string | undefined, string][] = [
    [undefined, 'FLX_SIG_MISSING'],
    ['Basic abc', 'FLX_SIG_MALFORMED'],
    [v.authorization_header_value.replace('algorithm="ed25519"', 'algorithm="rsa"'), 'FLX_SIG_ALGORITHM'],
    [v.authorization_header_value.replace('|ed25519"', '|rsa"'), 'FLX_SIG_ALGORITHM'],
    [v.authorization_header_value.replace('created="1641287875"', 'created="soon"'), 'FLX_SIG_MALFORMED'],
    [v.authorization_header_value + ',keyId="x|y|ed25519"', 'FLX_SIG_MALFORMED'],
    [v.authorization_header_value.replace(/signature="[^"]*"/, 'signature="abc"'), 'FLX_SIG_MALFORMED'],
  ];
  for (const [header, code] of cases) {
    assert.throws(
      () => parseAuthorization(header),
      (e: unknown) => (e as { code?: string }).code === code,
      `${header} should fail with ${code}`,
    );
  }
});
