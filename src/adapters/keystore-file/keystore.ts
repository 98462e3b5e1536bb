// Signing keys kept as files (one JSON file per subscriber, mode 0600) in a directory. A missing key
// is generated on first use when `generate` is set (the demo does this); otherwise it is an error
// naming the file. Private keys are read in either Beckn form (32-byte seed or 64-byte libsodium).
// Instead of the key itself, a key file may name where the key is: `signing_private_key_file` (a
// file holding the base64 key, e.g. one written by `flexlon beckn keygen`) or
// `signing_private_key_env` (an environment variable), so the secret need not sit in the config.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { generateKeyPair, keyPairFromPrivateBase64 } from '../../beckn/keys.ts';
import { ed25519Signer } from '../../beckn/signing.ts';
import { FlexError } from '../../errors.ts';
import type { KeyStore, Signer } from '../../ports.ts';
import { makeDirs } from '../../make-dirs.ts';

interface KeyFile {
  readonly subscriber_id: string;
  readonly unique_key_id: string;
  readonly signing_private_key?: string;
  readonly signing_private_key_file?: string;
  readonly signing_private_key_env?: string;
  readonly signing_public_key?: string;
}

/** The base64 private key a key file holds or names; exactly one of the three fields must be set. */
const privateKeyOf = (file: KeyFile, path: string, env: NodeJS.ProcessEnv): string => {
  const given = (['signing_private_key', 'signing_private_key_file', 'signing_private_key_env'] as const).filter(
    (f) => file[f] !== undefined,
  );
  if (given.length !== 1)
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `key file ${path} must have exactly one of signing_private_key, signing_private_key_file, signing_private_key_env (has ${given.length === 0 ? 'none' : given.join(', ')})`,
    );
  const [field] = given as [(typeof given)[number]];
  const value = file[field];
  if (typeof value !== 'string' || value === '')
    throw new FlexError('FLX_CONFIG_INVALID', `key file ${path}: ${field} must be a non-empty string`, { path: field });
  if (field === 'signing_private_key') return value;
  if (field === 'signing_private_key_env') {
    const v = env[value];
    if (v === undefined || v.trim() === '')
      throw new FlexError(
        'FLX_CONFIG_INVALID',
        `key file ${path}: environment variable ${value} (signing_private_key_env) is not set`,
        { path: field },
      );
    return v.trim();
  }
  try {
    return readFileSync(resolve(dirname(path), value), 'utf8').trim();
  } catch (e) {
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `key file ${path}: cannot read signing_private_key_file ${value}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { path: field },
    );
  }
};

const fileName = (subscriberId: string): string => `${subscriberId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;

/** Where a FileKeyStore in `dir` keeps the key of `subscriberId` (its public fields are what a peer trusts). */
export const keyFilePath = (dir: string, subscriberId: string): string => join(dir, fileName(subscriberId));

export const signerFromPrivateKey = (subscriberId: string, uniqueKeyId: string, privateKeyBase64: string): Signer => {
  const pair = keyPairFromPrivateBase64(privateKeyBase64);
  const sign = ed25519Signer(pair.privateKey);
  return { subscriberId, uniqueKeyId, publicKeyBase64: pair.publicKeyBase64, sign };
};

export class FileKeyStore implements KeyStore {
  constructor(
    private readonly dir: string,
    private readonly generate = false,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async signer(subscriberId: string): Promise<Signer> {
    const path = join(this.dir, fileName(subscriberId));
    if (!existsSync(path)) {
      if (!this.generate)
        throw new FlexError(
          'FLX_CONFIG_INVALID',
          `no key file for ${subscriberId} at ${path}: set "keys": {"generate": true} in the config to make one on first start, or write one there (docs/operator-guide.md, "Keys": flexlon beckn keygen)`,
          { path: 'keys.dir' },
        );
      makeDirs(this.dir, 0o700);
      const pair = generateKeyPair();
      const file: KeyFile = {
        subscriber_id: subscriberId,
        unique_key_id: randomUUID(),
        signing_private_key: pair.seedBase64,
        signing_public_key: pair.publicKeyBase64,
      };
      writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
    }
    let file: KeyFile;
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
    } catch (e) {
      throw new FlexError('FLX_CONFIG_INVALID', `key file ${path} is not valid JSON: ${(e as Error).message}`);
    }
    for (const f of ['subscriber_id', 'unique_key_id'] as const) {
      if (typeof file[f] !== 'string')
        throw new FlexError('FLX_CONFIG_INVALID', `key file ${path} has no ${f}`, { path: f });
    }
    const signer = signerFromPrivateKey(file.subscriber_id, file.unique_key_id, privateKeyOf(file, path, this.env));
    if (file.signing_public_key && file.signing_public_key !== signer.publicKeyBase64) {
      throw new FlexError(
        'FLX_CONFIG_INVALID',
        `key file ${path}: signing_public_key does not belong to signing_private_key`,
      );
    }
    return signer;
  }
}
