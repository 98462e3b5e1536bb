// Ed25519 keys in the forms Beckn networks use. Public keys are the raw 32 bytes in standard
// base64. Private keys arrive either as the 32-byte seed (beckn-onix) or as the 64-byte libsodium
// secret key, seed ‖ public key (protocol-server, and the BECKN-006 example). Node's crypto wants
// DER, so raw keys are wrapped in the fixed PKCS#8 / SPKI prefixes for Ed25519 (RFC 8410).
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { FlexError } from '../errors.ts';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface Ed25519KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicKeyBase64: string;
  /** The 32-byte seed, base64 (the beckn-onix form). */
  readonly seedBase64: string;
}

const decodeBase64Strict = (text: string, what: string): Buffer => {
  const clean = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(clean) || clean.length % 4 !== 0) {
    throw new FlexError('FLX_CONFIG_INVALID', `${what} is not standard base64`);
  }
  return Buffer.from(clean, 'base64');
};

export const publicKeyFromBase64 = (b64: string): KeyObject => {
  const raw = decodeBase64Strict(b64, 'the public key');
  if (raw.length !== 32)
    throw new FlexError('FLX_CONFIG_INVALID', `an ed25519 public key is 32 bytes; this one is ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
};

export const rawPublicKey = (key: KeyObject): Buffer => {
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32);
};

/** Reads a private key given as a 32-byte seed or a 64-byte libsodium secret key (base64). */
export const keyPairFromPrivateBase64 = (b64: string): Ed25519KeyPair => {
  const raw = decodeBase64Strict(b64, 'the private key');
  if (raw.length !== 32 && raw.length !== 64) {
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `an ed25519 private key is a 32-byte seed or a 64-byte seed‖public key; this one is ${raw.length} bytes`,
    );
  }
  const seed = raw.subarray(0, 32);
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey);
  const pub = rawPublicKey(publicKey);
  if (raw.length === 64 && !raw.subarray(32).equals(pub)) {
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      'the 64-byte private key does not end with the public key of its seed (corrupt or mixed-up key)',
    );
  }
  return { privateKey, publicKey, publicKeyBase64: pub.toString('base64'), seedBase64: seed.toString('base64') };
};

export const generateKeyPair = (): Ed25519KeyPair => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return keyPairFromPrivateBase64(der.subarray(der.length - 32).toString('base64'));
};
