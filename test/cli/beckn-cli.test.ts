// `flexlon beckn keygen|sign|verify|validate` as an operator meets them: the real bin, spawned, bodies on
// stdin. The BECKN-006 published vector must come out of `sign` byte for byte, in both key forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileKeyStore } from '../../src/adapters/keystore-file/keystore.ts';
import { buildContext } from '../../src/beckn/context.ts';
import { keyPairFromPrivateBase64 } from '../../src/beckn/keys.ts';
import { projectRoot, readSharedJson } from '../helpers/shared.ts';

const flexlon = (args: string[], input = '', env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'flexlon.js'), 'beckn', ...args], {
    input,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

interface Vector {
  request_body_exact: string;
  signing_public_key_base64: string;
  signing_private_key_base64_libsodium64: string;
  signing_seed_base64_derived: string;
  created: number;
  expires: number;
  authorization_header_value: string;
}
const v = readSharedJson<{ beckn006_bap_request_signature: Vector }>(
  'beckn',
  'vectors',
  'signing-test-vectors.json',
).beckn006_bap_request_signature;
const SUB = ['--subscriber-id', 'example-bap.com', '--unique-key-id', 'ae3ea24b-cfec-495e-81f8-044aaef164ac'];
const AT = ['--created', String(v.created), '--expires', String(v.expires)];

const withDir = (fn: (dir: string) => void) => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-cli-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test('sign reproduces the BECKN-006 header from the 64-byte libsodium key in a file', () =>
  withDir((dir) => {
    writeFileSync(join(dir, 'key'), v.signing_private_key_base64_libsodium64);
    const r = flexlon(['sign', '--private-key-file', join(dir, 'key'), ...SUB, ...AT], v.request_body_exact);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), v.authorization_header_value);
  }));

test('sign reproduces the BECKN-006 header from the 32-byte seed in an environment variable', () => {
  const r = flexlon(['sign', '--private-key-env', 'BAP_KEY', ...SUB, ...AT], v.request_body_exact, {
    BAP_KEY: v.signing_seed_base64_derived,
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), v.authorization_header_value);
});

test('verify accepts the published header at its created time, and says why it refuses a changed body or a late check', () => {
  const ok = flexlon(
    [
      'verify',
      '--public-key',
      v.signing_public_key_base64,
      '--authorization',
      v.authorization_header_value,
      '--now',
      String(v.created),
    ],
    v.request_body_exact,
  );
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /^valid: signed by example-bap.com/);
  const tampered = flexlon(
    [
      'verify',
      '--public-key',
      v.signing_public_key_base64,
      '--authorization',
      v.authorization_header_value,
      '--now',
      String(v.created),
    ],
    v.request_body_exact.replace('Kochi', 'Kochj'),
  );
  assert.equal(tampered.code, 1);
  assert.match(tampered.out, /FLX_SIG_INVALID/);
  const late = flexlon(
    [
      'verify',
      '--public-key',
      v.signing_public_key_base64,
      '--authorization',
      v.authorization_header_value,
      '--now',
      String(v.expires + 1),
    ],
    v.request_body_exact,
  );
  assert.equal(late.code, 1);
  assert.match(late.out, /FLX_SIG_EXPIRED/);
  const reformatted = flexlon(
    [
      'verify',
      '--public-key',
      v.signing_public_key_base64,
      '--authorization',
      v.authorization_header_value,
      '--now',
      String(v.created),
    ],
    JSON.stringify(JSON.parse(v.request_body_exact), null, 1),
  );
  assert.equal(reformatted.code, 1, 'the digest is over the exact bytes: re-serialised JSON does not verify');
});

test('keygen writes a usable pair (private key 0600), refuses to overwrite, and sign → verify round-trips', () =>
  withDir((dir) => {
    const out = join(dir, 'keys');
    const r = flexlon(['keygen', '--out', out]);
    assert.equal(r.code, 0, r.err);
    const printed = JSON.parse(r.out) as { signing_public_key: string };
    const pub = readFileSync(join(out, 'signing_public_key'), 'utf8').trim();
    assert.equal(printed.signing_public_key, pub);
    assert.equal(keyPairFromPrivateBase64(readFileSync(join(out, 'signing_private_key'), 'utf8')).publicKeyBase64, pub);
    assert.equal(statSync(join(out, 'signing_private_key')).mode & 0o777, 0o600);
    assert.equal(flexlon(['keygen', '--out', out]).code, 2, 'an existing pair is not overwritten without --force');
    const body = '{"context":{"ttl":"PT10S"},"message":{}}';
    const header = flexlon(
      [
        'sign',
        '--private-key-file',
        join(out, 'signing_private_key'),
        '--subscriber-id',
        'dc.example',
        '--unique-key-id',
        'k1',
      ],
      body,
    ).out.trim();
    const p = /created="(\d+)",expires="(\d+)"/.exec(header);
    assert.equal(Number(p?.[2]) - Number(p?.[1]), 10, 'expires − created = the body ttl (BECKN-006 note 3)');
    assert.equal(
      flexlon(['verify', '--public-key-file', join(out, 'signing_public_key'), '--authorization', header], body).code,
      0,
    );
  }));

test('validate exits 0 for a good message and 1 naming each JSON path at fault', () => {
  const context = buildContext({
    action: 'confirm',
    bapId: 'grid.example',
    bapUri: 'https://grid.example/beckn',
    bppId: 'dc.example',
    bppUri: 'https://dc.example/beckn',
    now: Date.now(),
  });
  const good = {
    context,
    message: {
      order: {
        provider: { id: 'dc.example' },
        items: [{ id: 'offer-1' }],
        billing: { email: 'settlement@grid.example' },
      },
    },
  };
  const ok = flexlon(['validate', '--action', 'confirm'], JSON.stringify(good));
  assert.equal(ok.code, 0, ok.out + ok.err);
  const bad = {
    context: { ...context, message_id: 'not-a-uuid' },
    message: {
      order: { items: [{ quantity: { selected: { measure: { value: 'ten' } } } }], billing: { email: 'nobody' } },
    },
  };
  const r = flexlon(['validate', '--action', 'confirm'], JSON.stringify(bad));
  assert.equal(r.code, 1);
  for (const path of [
    'context.message_id',
    'message.order.items[0].id',
    'message.order.items[0].quantity.selected.measure.value',
    'message.order.billing.email',
  ]) {
    assert.match(r.out, new RegExp(`^  ${path.replace(/[.[\]]/g, '\\$&')}: `, 'm'), `${path} is named`);
  }
  assert.equal(flexlon(['validate', '--action', 'confirm'], '{nope').code, 1);
  const wrong = flexlon(['validate', '--action', 'buy'], '{}');
  assert.equal(wrong.code, 2);
  assert.match(wrong.err, /FLX_CLI_USAGE: --action must be a Beckn 1.1.1 action/);
});

test('bad command lines are usage errors with the problem named, never a stack trace', () => {
  const cases: [string[], RegExp][] = [
    [['sign', ...SUB], /give exactly one of --private-key-file and --private-key-env/],
    [
      ['sign', '--private-key-file', '/nonexistent/key', ...SUB],
      /cannot read the private key file \/nonexistent\/key: ENOENT/,
    ],
    [['verify', '--public-key', 'abc', '--authorization', 'x'], /not standard base64/],
    [['frob'], /unknown subcommand "frob"/],
  ];
  for (const [args, message] of cases) {
    const r = flexlon(args);
    assert.ok(r.code === 1 || r.code === 2, `${args.join(' ')} fails`);
    assert.match(r.err, message);
    assert.doesNotMatch(r.err, /\n\s+at /);
  }
});

test('a key file may name its private key by environment variable or file instead of holding it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-cli-'));
  try {
    writeFileSync(join(dir, 'seed'), v.signing_seed_base64_derived);
    writeFileSync(
      join(dir, 'a.json'),
      JSON.stringify({ subscriber_id: 'a', unique_key_id: 'k', signing_private_key_file: 'seed' }),
    );
    writeFileSync(
      join(dir, 'b.json'),
      JSON.stringify({ subscriber_id: 'b', unique_key_id: 'k', signing_private_key_env: 'B_KEY' }),
    );
    writeFileSync(
      join(dir, 'c.json'),
      JSON.stringify({ subscriber_id: 'c', unique_key_id: 'k', signing_private_key_env: 'C_KEY' }),
    );
    writeFileSync(
      join(dir, 'd.json'),
      JSON.stringify({
        subscriber_id: 'd',
        unique_key_id: 'k',
        signing_private_key: v.signing_seed_base64_derived,
        signing_private_key_env: 'B_KEY',
      }),
    );
    const keys = new FileKeyStore(dir, false, { B_KEY: v.signing_private_key_base64_libsodium64 });
    assert.equal((await keys.signer('a')).publicKeyBase64, v.signing_public_key_base64);
    assert.equal((await keys.signer('b')).publicKeyBase64, v.signing_public_key_base64);
    await assert.rejects(keys.signer('c'), /environment variable C_KEY \(signing_private_key_env\) is not set/);
    await assert.rejects(
      keys.signer('d'),
      /must have exactly one of signing_private_key, signing_private_key_file, signing_private_key_env/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
