// Beckn 2.0 signing (14_Signing_Beckn_APIs_in_HTTP.md, read from ../shared at test time) and the
// Ack's CounterSignature (beckn.yaml `CounterSignature`), through FlexLon's own functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { signerFromPrivateKey } from '../../src/adapters/keystore-file/keystore.ts';
import { staticKeyResolver } from '../../src/beckn/key-resolver.ts';
import { signingString, verifySignature } from '../../src/beckn/signing.ts';
import { checkCounterSigned, counterSignedAck, toV2Nack } from '../../src/beckn/v2/ack.ts';
import { FlexError } from '../../src/errors.ts';
import { generateKeyPair } from '../../src/beckn/keys.ts';
import { sharedPath } from '../helpers/shared.ts';

const keyObject = (b64: string): KeyObject =>
  createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(b64, 'base64')]),
    format: 'der',
    type: 'spki',
  });

const DOC = sharedPath(
  'beckn',
  'protocol-specifications-v2',
  'release-v2.0.0-lts-with-docs',
  'docs',
  '14_Signing_Beckn_APIs_in_HTTP.md',
);

/** The first fenced block after a heading of the worked example (§6). */
const block = (text: string, heading: string): string => {
  const at = text.indexOf(heading);
  assert.ok(at >= 0, `the document has "${heading}"`);
  const m = /```\w*\n([\s\S]*?)\n```/.exec(text.slice(at));
  assert.ok(m?.[1]);
  return m[1].trim();
};

test('the 2.0 worked example verifies with the BECKN-006 signing string FlexLon uses (no trailing LF), not with the LF its Step 2 text asks for', () => {
  const text = readFileSync(DOC, 'utf8');
  const example = text.slice(text.indexOf('## 6. Worked Example'));
  const publicKey = /signingPublicKey\s*=\s*(\S+)/.exec(example)?.[1] ?? '';
  const digest = /→ Base64 → (\S+)/.exec(block(example, '### Step 1'))?.[1] ?? '';
  const sig = block(example, '### Step 3');
  const [created, expires] = [...block(example, '### Step 2').matchAll(/\((?:created|expires)\): (\d+)/g)].map((m) =>
    Number(m[1]),
  );
  assert.ok(publicKey && digest && sig && created && expires);
  const s = signingString(created, expires, digest);
  assert.equal(s, block(example, '### Step 2'), "FlexLon's signing string is the document's, byte for byte");
  assert.equal(verifySignature(keyObject(publicKey), s, sig), true);
  // "Each line ends with \n" (Step 2): with a final LF the example's own signature does not verify.
  assert.equal(verifySignature(keyObject(publicKey), `${s}\n`, sig), false);
});

const signer = signerFromPrivateKey('bpp.example', 'k1', generateKeyPair().seedBase64);
const other = signerFromPrivateKey('other.example', 'k1', generateKeyPair().seedBase64);
const resolver = staticKeyResolver(
  [signer, other].map((s) => ({
    subscriberId: s.subscriberId,
    uniqueKeyId: s.uniqueKeyId,
    publicKeyBase64: s.publicKeyBase64,
    url: 'http://x',
  })),
);
const request = Buffer.from('{"context":{"action":"on_select"},"message":{}}');
const MSG = '7f1d2c3b-0000-4000-8000-000000000001';

test('a counter-signed Ack verifies for its signer, request and messageId, and for nothing else', async () => {
  const now = Date.now();
  const text = counterSignedAck({ status: 'ACK' }, signer, now, request, MSG);
  const ack = JSON.parse(text) as { status: string; signature: string };
  assert.match(
    ack.signature,
    /^Signature keyId="bpp\.example\|k1\|ed25519",algorithm="ed25519",created="\d+",expires="\d+",headers="\(created\) \(expires\) digest \(request-digest\) \(message-id\)",signature="[A-Za-z0-9+/]+=*"$/,
  );
  assert.equal((await checkCounterSigned(text, resolver, 'bpp.example', request, MSG, now)).status, 'ACK');
  const refused = async (t: string, peer = 'bpp.example', req = request, msg = MSG) =>
    assert.rejects(checkCounterSigned(t, resolver, peer, req, msg, now), (e: unknown) => {
      assert.ok(e instanceof FlexError);
      assert.equal(e.code, 'FLX_PEER_ACK_SIGNATURE');
      return true;
    });
  await refused(text.replace('"ACK"', '"NACK"')); // another answer under the same signature
  await refused(text, 'bpp.example', Buffer.from(`${request.toString()} `)); // another request
  await refused(text, 'bpp.example', request, MSG.replace('1', '2')); // another message
  await refused(text, 'other.example'); // not the peer asked
  await refused(counterSignedAck({ status: 'ACK' }, other, now, request, MSG)); // signed by someone else
  await refused(JSON.stringify({ status: 'ACK' })); // beckn.yaml: the Ack MUST carry one
  await refused(text.replace('"ACK"', '"ACK","error":{"errorCode":"1"}')); // a member added after signing
});

test('2.0 refusals get real HTTP statuses and the 2.0 error codes', () => {
  const cases: [FlexError, number, string][] = [
    [new FlexError('FLX_SIG_INVALID'), 401, '60001'],
    [new FlexError('FLX_SIG_EXPIRED'), 401, '60002'],
    [new FlexError('FLX_SIG_UNKNOWN_KEY'), 401, '60003'],
    [new FlexError('FLX_REQ_CONTEXT', 'x', { path: 'context.bapUri' }), 400, '60005'],
    [new FlexError('FLX_REQ_SCHEMA', 'x', { path: 'message.contract' }), 400, '30000'],
    [new FlexError('FLX_ORDER_NOT_FOUND'), 400, '30008'],
    [new FlexError('FLX_QUANTITY_UNAVAILABLE'), 409, '40002'],
    [new FlexError('FLX_CANCEL_NOT_POSSIBLE'), 409, '50001'],
    [new FlexError('FLX_INTERNAL', 'secret detail'), 500, '40000'],
  ];
  for (const [e, http, code] of cases) {
    const n = toV2Nack(e);
    assert.deepEqual([e.code, n.http, n.body.status, n.body.error?.errorCode], [e.code, http, 'NACK', code]);
  }
  assert.equal(
    toV2Nack(new FlexError('FLX_INTERNAL', 'secret detail')).body.error?.errorMessage,
    'FLX_INTERNAL: internal error',
  );
  assert.equal(
    toV2Nack(new FlexError('FLX_REQ_SCHEMA', 'x', { path: 'message.contract' })).body.error?.path,
    'message.contract',
  );
});
