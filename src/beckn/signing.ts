// Beckn HTTP message signatures, BECKN-006 (draft-cavage-http-signatures-12 profile):
//   digest   = base64(BLAKE2b-512(raw body bytes))                        (BECKN-006 "Hashing Algorithm")
//   signing  = "(created): C\n(expires): E\ndigest: BLAKE-512=<digest>"   (Step 1, item 4; LF, no trailing LF)
//   header   = Signature keyId="sub|ukid|ed25519",algorithm="ed25519",created="C",expires="E",
//              headers="(created) (expires) digest",signature="<base64 ed25519 sig>"  (Step 1, item 7)
// The digest is always taken over the exact bytes on the wire, never over re-serialised JSON.
import { createHash, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';

export const SIGNED_HEADERS = '(created) (expires) digest';

export const blake512Base64 = (body: Uint8Array | string): string =>
  createHash('blake2b512').update(body).digest('base64');

export const signingString = (created: number, expires: number, digestBase64: string): string =>
  `(created): ${created}\n(expires): ${expires}\ndigest: BLAKE-512=${digestBase64}`;

export interface SignatureParams {
  readonly subscriberId: string;
  readonly uniqueKeyId: string;
  readonly algorithm: 'ed25519';
  readonly created: number;
  readonly expires: number;
  readonly headers: string;
  readonly signature: string;
}

export const formatSignatureHeader = (p: SignatureParams): string =>
  `Signature keyId="${p.subscriberId}|${p.uniqueKeyId}|${p.algorithm}",algorithm="${p.algorithm}",created="${p.created}",expires="${p.expires}",headers="${p.headers}",signature="${p.signature}"`;

export interface SignInput {
  readonly body: Uint8Array | string;
  readonly subscriberId: string;
  readonly uniqueKeyId: string;
  readonly created: number;
  readonly expires: number;
  readonly sign: (data: Uint8Array) => Uint8Array;
}

export interface SignedRequest {
  readonly digest: string;
  readonly signingString: string;
  readonly signature: string;
  readonly header: string;
}

export const signBody = (input: SignInput): SignedRequest => {
  const digest = blake512Base64(input.body);
  const str = signingString(input.created, input.expires, digest);
  const signature = Buffer.from(input.sign(Buffer.from(str, 'utf8'))).toString('base64');
  const header = formatSignatureHeader({
    subscriberId: input.subscriberId,
    uniqueKeyId: input.uniqueKeyId,
    algorithm: 'ed25519',
    created: input.created,
    expires: input.expires,
    headers: SIGNED_HEADERS,
    signature,
  });
  return { digest, signingString: str, signature, header };
};

export const ed25519Signer =
  (privateKey: KeyObject) =>
  (data: Uint8Array): Uint8Array =>
    edSign(null, data, privateKey);

export const verifySignature = (publicKey: KeyObject, signingStr: string, signatureBase64: string): boolean => {
  const sig = Buffer.from(signatureBase64, 'base64');
  if (sig.length !== 64) return false;
  return edVerify(null, Buffer.from(signingStr, 'utf8'), publicKey, sig);
};
