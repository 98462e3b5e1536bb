// Signing keys kept as files (one JSON file per subscriber, mode 0600) in a directory. A missing key
// is generated on first use when `generate` is set (the demo does this); otherwise it is an error
// naming the file. Private keys are read in either Beckn form (32-byte seed or 64-byte libsodium).
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, keyPairFromPrivateBase64 } from '../../beckn/keys.ts';
import { ed25519Signer } from '../../beckn/signing.ts';
import { FlexError } from '../../errors.ts';
import type { KeyStore, Signer } from '../../ports.ts';

interface KeyFile {
  readonly subscriber_id: string;
  readonly unique_key_id: string;
  readonly signing_private_key: string;
  readonly signing_public_key: string;
}

const fileName = (subscriberId: string): string => `${subscriberId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;

export const signerFromPrivateKey = (subscriberId: string, uniqueKeyId: string, privateKeyBase64: string): Signer => {
  const pair = keyPairFromPrivateBase64(privateKeyBase64);
  const sign = ed25519Signer(pair.privateKey);
  return { subscriberId, uniqueKeyId, publicKeyBase64: pair.publicKeyBase64, sign };
};

export class FileKeyStore implements KeyStore {
  constructor(private readonly dir: string, private readonly generate = false) {}

  async signer(subscriberId: string): Promise<Signer> {
    const path = join(this.dir, fileName(subscriberId));
    if (!existsSync(path)) {
      if (!this.generate) throw new FlexError('FLX_CONFIG_INVALID', `no key file for ${subscriberId} at ${path}`);
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const pair = generateKeyPair();
      const file: KeyFile = { subscriber_id: subscriberId, unique_key_id: randomUUID(), signing_private_key: pair.seedBase64, signing_public_key: pair.publicKeyBase64 };
      writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    }
    let file: KeyFile;
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
    } catch (e) {
      throw new FlexError('FLX_CONFIG_INVALID', `key file ${path} is not valid JSON: ${(e as Error).message}`);
    }
    for (const f of ['subscriber_id', 'unique_key_id', 'signing_private_key'] as const) {
      if (typeof file[f] !== 'string') throw new FlexError('FLX_CONFIG_INVALID', `key file ${path} has no ${f}`, { path: f });
    }
    const signer = signerFromPrivateKey(file.subscriber_id, file.unique_key_id, file.signing_private_key);
    if (file.signing_public_key && file.signing_public_key !== signer.publicKeyBase64) {
      throw new FlexError('FLX_CONFIG_INVALID', `key file ${path}: signing_public_key does not belong to signing_private_key`);
    }
    return signer;
  }
}
