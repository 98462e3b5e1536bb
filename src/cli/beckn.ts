// `flexlon beckn keygen|sign|verify|validate`: what an operator uses to debug a Beckn network (and
// what tests use to drive one). Bodies are read from stdin as raw bytes: the digest is over exactly
// those bytes, never over re-serialised JSON (BECKN-006).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FlexError } from '../errors.ts';
import { durationSeconds, isCallback, isRequest, type Action } from '../beckn/context.ts';
import { staticKeyResolver } from '../beckn/key-resolver.ts';
import { generateKeyPair, keyPairFromPrivateBase64, publicKeyFromBase64 } from '../beckn/keys.ts';
import { parseAuthorization } from '../beckn/auth-header.ts';
import { ed25519Signer, signBody } from '../beckn/signing.ts';
import { becknValidator, type SchemaIssue } from '../beckn/validator.ts';
import { OTHER_V2_ACTIONS, V2_ACTIONS } from '../beckn/v2/schema.ts';
import { checkV2, detectVersion, loadOfficialSpec } from '../beckn/v2/validate.ts';
import { verifyRequest } from '../beckn/verify.ts';
import { parseFlags, type Command, type Output } from './command.ts';
import { makeDirs } from '../make-dirs.ts';

const USAGE = `Usage: flexlon beckn <keygen|sign|verify|validate> [options]

  keygen --out DIR [--force]
      Writes an ed25519 key pair: DIR/signing_private_key (base64 32-byte seed, mode 0600) and
      DIR/signing_public_key (base64 32 bytes, the registry's signing_public_key).

  sign (--private-key-file F | --private-key-env VAR) --subscriber-id S --unique-key-id K
       [--created N] [--expires N] < body.json
      Prints the Authorization header value (BECKN-006) for exactly the bytes on stdin. The private
      key is base64: the 32-byte seed (beckn-onix) or the 64-byte libsodium key (protocol-server).
      --created defaults to now, --expires to created + the body's context.ttl (or 30 s).

  verify (--public-key B64 | --public-key-file F) --authorization 'Signature keyId=…' [--now N] < body.json
      Exits 0 if the header is a valid signature of stdin by that key at time N (Unix seconds,
      default now), 1 if not, printing why.

  validate [--action ACTION] [--spec FILE] < message.json
      Tells Beckn core 1.1.1 from Beckn 2.0 by the message's context, then checks the message
      against FlexLon's schema for its action (context.action unless --action is given): 1.1.1
      search … on_support, 2.0 discover … on_update. With --spec, also against an official OpenAPI
      file (core 1.1.1 transaction.yaml or 2.0 beckn.yaml, YAML or JSON) read now. Exits 0 if
      valid, 1 if not, printing each JSON path at fault, 2 for a bad command line or --spec file.`;

export const readStdin = async (): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

const required = (v: string | undefined, flag: string): string => {
  if (v === undefined || v === '') throw new FlexError('FLX_CLI_USAGE', `${flag} is required\n\n${USAGE}`);
  return v;
};

const unixSeconds = (v: string | undefined, flag: string): number | undefined => {
  if (v === undefined) return undefined;
  if (!/^\d{1,12}$/.test(v))
    throw new FlexError('FLX_CLI_USAGE', `${flag} must be a Unix time in whole seconds, got "${v}"`);
  return Number(v);
};

const readKeyFile = (path: string, what: string): string => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { path },
    );
  }
};

/** A private key named by reference (a file or an environment variable), never given inline. */
export const privateKeyFromReference = (
  ref: { file?: string | undefined; env?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): string => {
  if ((ref.file === undefined) === (ref.env === undefined))
    throw new FlexError('FLX_CLI_USAGE', `give exactly one of --private-key-file and --private-key-env\n\n${USAGE}`);
  if (ref.file !== undefined) return readKeyFile(ref.file, 'the private key file');
  const value = env[ref.env as string];
  if (value === undefined || value.trim() === '')
    throw new FlexError('FLX_CONFIG_INVALID', `environment variable ${ref.env} (--private-key-env) is not set`, {
      path: ref.env as string,
    });
  return value.trim();
};

const keygen = (argv: readonly string[], io: Output): number => {
  const { values } = parseFlags(argv, { out: { type: 'string' }, force: { type: 'boolean' } }, USAGE);
  const dir = resolve(required(values.out, '--out'));
  const files = { private: join(dir, 'signing_private_key'), public: join(dir, 'signing_public_key') };
  if (!values.force && (existsSync(files.private) || existsSync(files.public))) {
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `${dir} already holds a key pair; pass --force to replace it (the old private key is lost)`,
      { path: '--out' },
    );
  }
  makeDirs(dir, 0o700);
  const pair = generateKeyPair();
  writeFileSync(files.private, `${pair.seedBase64}\n`, { mode: 0o600 });
  writeFileSync(files.public, `${pair.publicKeyBase64}\n`, { mode: 0o644 });
  io.out(
    JSON.stringify({
      signing_public_key: pair.publicKeyBase64,
      private_key_file: files.private,
      public_key_file: files.public,
    }),
  );
  return 0;
};

const ttlOf = (body: Buffer): number => {
  try {
    const ttl = (JSON.parse(body.toString('utf8')) as { context?: { ttl?: unknown } }).context?.ttl;
    return typeof ttl === 'string' ? (durationSeconds(ttl) ?? 30) : 30;
  } catch {
    return 30;
  }
};

const sign = async (argv: readonly string[], io: Output): Promise<number> => {
  const { values } = parseFlags(
    argv,
    {
      'private-key-file': { type: 'string' },
      'private-key-env': { type: 'string' },
      'subscriber-id': { type: 'string' },
      'unique-key-id': { type: 'string' },
      created: { type: 'string' },
      expires: { type: 'string' },
    },
    USAGE,
  );
  const key = keyPairFromPrivateBase64(
    privateKeyFromReference({ file: values['private-key-file'], env: values['private-key-env'] }),
  );
  const subscriberId = required(values['subscriber-id'], '--subscriber-id');
  const uniqueKeyId = required(values['unique-key-id'], '--unique-key-id');
  if (/[|"]/.test(subscriberId + uniqueKeyId))
    throw new FlexError('FLX_CLI_USAGE', '--subscriber-id and --unique-key-id may not contain | or "');
  const body = await readStdin();
  const created = unixSeconds(values.created, '--created') ?? Math.floor(Date.now() / 1000);
  const expires = unixSeconds(values.expires, '--expires') ?? created + ttlOf(body);
  if (expires < created)
    throw new FlexError('FLX_CLI_USAGE', `--expires (${expires}) is before --created (${created})`);
  io.out(signBody({ body, subscriberId, uniqueKeyId, created, expires, sign: ed25519Signer(key.privateKey) }).header);
  return 0;
};

const verify = async (argv: readonly string[], io: Output): Promise<number> => {
  const { values } = parseFlags(
    argv,
    {
      'public-key': { type: 'string' },
      'public-key-file': { type: 'string' },
      authorization: { type: 'string' },
      now: { type: 'string' },
    },
    USAGE,
  );
  if ((values['public-key'] === undefined) === (values['public-key-file'] === undefined))
    throw new FlexError('FLX_CLI_USAGE', `give exactly one of --public-key and --public-key-file\n\n${USAGE}`);
  const publicKeyBase64 =
    values['public-key'] ?? readKeyFile(values['public-key-file'] as string, 'the public key file');
  publicKeyFromBase64(publicKeyBase64); // a bad key is a usage problem (exit 2), not an invalid signature
  const authorization = required(values.authorization, '--authorization');
  const nowS = unixSeconds(values.now, '--now') ?? Math.floor(Date.now() / 1000);
  const body = await readStdin();
  try {
    const p = parseAuthorization(authorization);
    const resolver = staticKeyResolver([
      { subscriberId: p.subscriberId, uniqueKeyId: p.uniqueKeyId, publicKeyBase64, url: '' },
    ]);
    await verifyRequest(body, authorization, resolver, nowS * 1000);
    io.out(
      `valid: signed by ${p.subscriberId} with key ${p.uniqueKeyId}, created ${p.created}, expires ${p.expires}, over ${body.length} bytes`,
    );
    return 0;
  } catch (e) {
    if (!(e instanceof FlexError)) throw e;
    io.out(`invalid: ${e.code}: ${e.message}`);
    return 1;
  }
};

const V2_ACTION_NAMES = [...V2_ACTIONS, ...OTHER_V2_ACTIONS];

/** Prints one check's result; returns whether it passed. */
const report = (io: Output, what: string, issues: readonly SchemaIssue[]): boolean => {
  if (issues.length === 0) {
    io.out(`${what}: valid`);
    return true;
  }
  io.out(`${what}: invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):`);
  for (const i of issues) io.out(`  ${i.path}: ${i.message}`);
  return false;
};

// Issue 18: the version (core 1.1.1 or 2.0) is told from the message's context, then the message is
// checked against FlexLon's own schema for it and, with --spec, an official OpenAPI file read now.
const validate = async (argv: readonly string[], io: Output): Promise<number> => {
  const { values } = parseFlags(argv, { action: { type: 'string' }, spec: { type: 'string' } }, USAGE);
  const given = values.action;
  if (given !== undefined && !isRequest(given) && !isCallback(given) && !V2_ACTION_NAMES.includes(given as never))
    throw new FlexError(
      'FLX_CLI_USAGE',
      `--action must be a Beckn 1.1.1 action (search, select, init, confirm, status, track, cancel, update, rating, support or on_<one of them>) or a Beckn 2.0 one (${V2_ACTIONS.join(', ')}), got "${given}"`,
    );
  const spec = values.spec === undefined ? undefined : loadOfficialSpec(required(values.spec, '--spec'));
  let msg: unknown;
  try {
    msg = JSON.parse((await readStdin()).toString('utf8'));
  } catch (e) {
    io.out(`invalid: the input is not JSON: ${(e as Error).message}`);
    return 1;
  }
  const detected = detectVersion(msg);
  if ('path' in detected) return report(io, 'invalid: cannot tell the Beckn version', [detected]) ? 0 : 1;
  const action = given ?? detected.action;
  const label =
    detected.version === '1.1.1'
      ? 'Beckn core 1.1.1'
      : detected.dialect === 'lts'
        ? 'Beckn 2.0 (LTS spelling: camelCase context)'
        : 'Beckn 2.0 (DEG draft spelling: snake_case context, message.order)';
  io.out(`${label} ${action ?? '(no action)'} message`);
  if (action === undefined)
    return report(io, 'FlexLon schema', [{ path: 'context.action', message: 'is required' }]) ? 0 : 1;
  let ownIssues: SchemaIssue[];
  if (detected.version === '1.1.1')
    ownIssues =
      isRequest(action) || isCallback(action)
        ? becknValidator().check(action as Action, msg)
        : [{ path: 'context.action', message: `"${action}" is not a Beckn 1.1.1 action` }];
  else ownIssues = checkV2(detected.dialect, action, msg);
  let ok = report(io, 'FlexLon schema', ownIssues);
  if (spec) ok = report(io, spec.title, spec.check(action, msg)) && ok;
  return ok ? 0 : 1;
};

export const becknCommand: Command = {
  name: 'beckn',
  summary: 'Beckn tools: keygen, sign, verify, validate',
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'keygen':
        return keygen(rest, io);
      case 'sign':
        return sign(rest, io);
      case 'verify':
        return verify(rest, io);
      case 'validate':
        return validate(rest, io);
      default:
        throw new FlexError(
          'FLX_CLI_USAGE',
          `${sub === undefined ? 'a subcommand is required' : `unknown subcommand "${sub}"`}\n\n${USAGE}`,
        );
    }
  },
};
