// The configs of `flexlon run`: the examples in docs/examples/run/ fit together as one market, paths
// in a config are relative to its file (not to the working directory), and a bad field is refused
// with exit 2 and FLX_CONFIG_INVALID naming the field, before anything is written. Starting every
// example as a real process is test/e2e/run-processes.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { ConfigReader } from '../../src/run/config-reader.ts';
import { readBpp, readGridAgent } from '../../src/run/roles.ts';
import { registryCacheMs } from '../../src/compose/config.ts';
import { projectRoot } from '../helpers/shared.ts';

type Json = Record<string, unknown>;
const EXAMPLES = join(projectRoot, 'docs', 'examples', 'run');
const example = (role: string): Json => JSON.parse(readFileSync(join(EXAMPLES, `${role}.json`), 'utf8')) as Json;
const get = (v: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], v);
const listenUrl = (c: Json) => `http://${String(get(c, 'listen.host'))}:${String(get(c, 'listen.port'))}`;

test('the example configs name each other consistently: URLs, ids and key files', () => {
  const [registry, gateway, bpp, agent] = ['registry', 'gateway', 'bpp', 'agent'].map(example) as [
    Json,
    Json,
    Json,
    Json,
  ];
  for (const [role, c] of Object.entries({ registry, gateway, bpp, agent }))
    assert.equal(c.role, role, `${role}.json says its role`);
  assert.equal(get(gateway, 'registry.url'), listenUrl(registry));
  assert.equal(get(bpp, 'registry.url'), listenUrl(registry));
  const site = (bpp.sites as Json[])[0] ?? {};
  assert.equal(site.agentUrl, listenUrl(agent));
  assert.equal(site.agentId, agent.id);
  assert.equal(site.id, get(agent, 'site.id'));
  assert.equal(
    site.agentKeyFile,
    `${String(get(agent, 'keys.dir'))}/${String(agent.id)}.json`,
    'the BPP reads the agent key the agent writes',
  );
  assert.equal(get(agent, 'orchestrator.url'), listenUrl(bpp));
  // The agent trusts the BPP's dispatch key, a key pair of its own beside its Beckn key (issue 14 finding 6).
  assert.equal(get(agent, 'orchestrator.id'), `dispatch.${String(bpp.id)}`);
  assert.equal(get(agent, 'orchestrator.keyFile'), `${String(get(bpp, 'keys.dir'))}/dispatch.${String(bpp.id)}.json`);
  assert.deepEqual(agent.clock, bpp.clock, 'the agent and the BPP share one market clock');
  assert.equal(get(agent, 'scheduler.kind'), 'sim');
  const ports = [registry, gateway, bpp, agent].map((c) => get(c, 'listen.port'));
  assert.equal(new Set(ports).size, 4);
});

test("paths in a config resolve against the config file's folder, not the working directory", () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-config-'));
  try {
    mkdirSync(join(dir, 'etc'));
    const file = join(dir, 'etc', 'bpp.json');
    writeFileSync(
      file,
      JSON.stringify({ store: { sqlite: 'state/bpp.db' }, keys: { dir: '../keys' }, abs: '/var/lib/flexlon/x.db' }),
    );
    const c = ConfigReader.load(file);
    assert.equal(c.object('store').filePath('sqlite'), join(dir, 'etc', 'state', 'bpp.db'));
    assert.equal(c.object('keys').filePath('dir'), join(dir, 'keys'));
    assert.equal(c.filePath('abs'), '/var/lib/flexlon/x.db', 'an absolute path is kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the compute-energy examples fit together: the BPP buys from the grid agent, in an area it sells, on one market clock', () => {
  const [grid, bpp, agent] = ['compute-energy/grid-agent', 'compute-energy/bpp', 'compute-energy/agent'].map(
    example,
  ) as [Json, Json, Json];
  const registry = example('registry');
  assert.equal(grid.role, 'grid-agent');
  assert.equal(get(grid, 'registry.url'), listenUrl(registry));
  assert.equal(get(bpp, 'registry.url'), listenUrl(registry));
  assert.deepEqual(get(bpp, 'computeEnergy.gridAgents'), [grid.id]);
  for (const [area, region] of Object.entries(get(bpp, 'computeEnergy.areas') as Json))
    assert.equal((grid.areas as Json)[area], region, `the grid agent sells ${area} with the same region`);
  assert.deepEqual(grid.clock, bpp.clock);
  assert.deepEqual(agent.clock, bpp.clock);
  assert.equal(((bpp.sites as Json[])[0] ?? {}).region, get(agent, 'site.region'));
  const ports = [registry, grid, bpp, agent].map((c) => get(c, 'listen.port'));
  ports.push(get(bpp, 'computeEnergy.listen.port'));
  assert.equal(new Set(ports).size, 5);
  // Read as `flexlon run` reads them: the typed configs.
  const read = readBpp(ConfigReader.load(join(EXAMPLES, 'compute-energy', 'bpp.json')));
  assert.deepEqual(read.computeEnergy?.renew, {
    gridAgents: ['grid-agent.example.local'],
    kw: 100,
    everyMinutes: 30,
    slotMinutes: 30,
  });
  assert.deepEqual(read.computeEnergy?.sites, { lon: 'London' });
  assert.equal(read.computeEnergy?.listen.publicUrl, 'http://127.0.0.1:4716');
  assert.match(
    read.computeEnergy?.store.kind === 'sqlite' ? read.computeEnergy.store.file : '',
    /compute-energy\/state\/compute-energy\.db$/,
  );
  const g = readGridAgent(ConfigReader.load(join(EXAMPLES, 'compute-energy', 'grid-agent.json')));
  assert.deepEqual([g.windowSlots, g.slotMinutes, g.capacityKw, g.discount], [8, 30, 2000, 0.5]);
  // The plain example has no compute agent.
  assert.equal(readBpp(ConfigReader.load(join(EXAMPLES, 'bpp.json'))).computeEnergy, undefined);
});

test('a bpp config states what a site move costs; a part left out takes the default, none at all leaves it to the orchestrator', () => {
  const plain = ConfigReader.load(join(EXAMPLES, 'bpp.json'));
  assert.equal(readBpp(plain).moveCost, undefined);
  const withMove = new ConfigReader(plain.file, { ...plain.value, moveCost: { gbpPerMove: 40 } });
  assert.deepEqual(readBpp(withMove).moveCost, { gbpPerMove: 40, gbpPerGpu: 0.1 });
});

test('registry.cacheSeconds sets how long a role uses a registry answer: 30 s unless stated', () => {
  const plain = ConfigReader.load(join(EXAMPLES, 'bpp.json'));
  assert.equal(registryCacheMs(readBpp(plain).registry), 30_000);
  const reg = plain.value.registry as Json;
  const longer = new ConfigReader(plain.file, { ...plain.value, registry: { ...reg, cacheSeconds: 600 } });
  assert.equal(registryCacheMs(readBpp(longer).registry), 600_000);
  const none = new ConfigReader(plain.file, { ...plain.value, registry: { ...reg, cacheSeconds: 0 } });
  assert.equal(registryCacheMs(readBpp(none).registry), 0);
  const bad = new ConfigReader(plain.file, { ...plain.value, registry: { ...reg, cacheSeconds: -5 } });
  assert.throws(() => readBpp(bad), /registry\.cacheSeconds/);
});

/** Runs `flexlon run <role>` in this process on a copy of an example with `patch` applied. */
const runPatched = async (role: string, from: string, patch: (c: Json) => void) => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-config-'));
  try {
    const c = example(from);
    patch(c);
    const file = join(dir, `${basename(from)}.json`);
    writeFileSync(file, JSON.stringify(c));
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['run', role, '--config', file], { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n'), wrote: existsSync(join(dir, 'state')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

const CASES: readonly { role: string; from?: string; field: string; why: RegExp; patch: (c: Json) => void }[] = [
  {
    role: 'bpp',
    field: 'horizonSlots',
    why: /must be a whole number from 2 to 2000, got 1/,
    patch: (c) => {
      c.horizonSlots = 1;
    },
  },
  {
    role: 'bpp',
    field: 'outboxEveryMS',
    why: /is not a known field here/,
    patch: (c) => {
      c.outboxEveryMS = 500;
    },
  },
  {
    role: 'bpp',
    field: 'sites[0].agentUrl',
    why: /must be an http\(s\) URL, got "ftp:\/\/x"/,
    patch: (c) => {
      ((c.sites as Json[])[0] ?? {}).agentUrl = 'ftp://x';
    },
  },
  {
    role: 'bpp',
    field: 'clock.wallStart',
    why: /must be an RFC 3339 date-time/,
    patch: (c) => {
      (c.clock as Json).wallStart = 'yesterday';
    },
  },
  {
    role: 'bpp',
    field: 'moveCost.gbpPerGpu',
    why: /must be a number from 0 to 1000000, got -0.1/,
    patch: (c) => {
      c.moveCost = { gbpPerMove: 2, gbpPerGpu: -0.1 };
    },
  },
  {
    role: 'bpp',
    field: 'planner.kind',
    why: /must be one of highs, greedy/,
    patch: (c) => {
      (c.planner as Json).kind = 'cplex';
    },
  },
  {
    role: 'agent',
    field: 'scheduler.kind',
    why: /must be one of sim, slurm, got "kubernetes"/,
    patch: (c) => {
      (c.scheduler as Json).kind = 'kubernetes';
    },
  },
  {
    role: 'agent',
    field: 'site.gridImportLimitKw',
    why: /is required/,
    patch: (c) => {
      delete (c.site as Json).gridImportLimitKw;
    },
  },
  {
    role: 'agent',
    field: 'orchestrator.keyFile',
    why: /name the peer's key/,
    patch: (c) => {
      delete (c.orchestrator as Json).keyFile;
    },
  },
  {
    role: 'gateway',
    field: 'registry',
    why: /is required \(an object\)/,
    patch: (c) => {
      delete c.registry;
    },
  },
  {
    role: 'registry',
    field: 'store.sqlite',
    why: /give exactly one of "sqlite"/,
    patch: (c) => {
      (c.store as Json).postgres = { url: 'postgresql://h/db', schema: 's' };
    },
  },
  {
    role: 'registry',
    field: 'listen.port',
    why: /from 1 to 65535, got 70000/,
    patch: (c) => {
      (c.listen as Json).port = 70_000;
    },
  },
  { role: 'agent', from: 'bpp', field: 'role', why: /this config is for "bpp", not "agent"/, patch: () => {} },
  {
    // A missing field names the field present that is one slip from it ("host" is not named).
    role: 'registry',
    field: 'listen.port',
    why: /is required: .*\(this object has "prot", not a known field: did you mean port\?\)$/,
    patch: (c) => {
      c.listen = { host: '127.0.0.1', prot: 4720 };
    },
  },
  {
    role: 'grid-agent',
    from: 'compute-energy/grid-agent',
    field: 'capacityKw',
    why: /is required: must be a number from 1 to 10000000/,
    patch: (c) => {
      delete c.capacityKw;
    },
  },
  {
    role: 'grid-agent',
    from: 'compute-energy/grid-agent',
    field: 'areas',
    why: /must name at least one grid area/,
    patch: (c) => {
      c.areas = {};
    },
  },
  {
    role: 'grid-agent',
    from: 'compute-energy/grid-agent',
    field: 'discount',
    why: /must be a number from 0 to 1, got 1.5/,
    patch: (c) => {
      c.discount = 1.5;
    },
  },
  {
    role: 'bpp',
    from: 'compute-energy/bpp',
    field: 'computeEnergy.areas.Manchester',
    why: /region "North West England" is no site's region \(the sites' regions: London\)/,
    patch: (c) => {
      (c.computeEnergy as Json).areas = { London: 'London', Manchester: 'North West England' };
    },
  },
  {
    role: 'bpp',
    from: 'compute-energy/bpp',
    field: 'computeEnergy.gridAgents',
    why: /must name at least one grid agent/,
    patch: (c) => {
      (c.computeEnergy as Json).gridAgents = [];
    },
  },
  {
    role: 'bpp',
    from: 'compute-energy/bpp',
    field: 'computeEnergy.kw',
    why: /is required/,
    patch: (c) => {
      delete (c.computeEnergy as Json).kw;
    },
  },
  {
    role: 'bpp',
    from: 'compute-energy/bpp',
    field: 'computeEnergy.renewEveryMinutes',
    why: /must be a number from 0.05 to 1440, got 0/,
    patch: (c) => {
      (c.computeEnergy as Json).renewEveryMinutes = 0;
    },
  },
  {
    role: 'bpp',
    from: 'compute-energy/bpp',
    field: 'computeEnergy.listen',
    why: /is required \(an object\)/,
    patch: (c) => {
      delete (c.computeEnergy as Json).listen;
    },
  },
  {
    role: 'grid-agent',
    from: 'compute-energy/grid-agent',
    field: 'areas.London',
    why: /"Londres" is not a NESO region/,
    patch: (c) => {
      c.areas = { London: 'Londres' };
    },
  },
  {
    role: 'bpp',
    from: 'compute-energy/bpp',
    field: 'computeEnergy.listen.port',
    why: /must differ from the BPP's own port/,
    patch: (c) => {
      ((c.computeEnergy as Json).listen as Json).port = (c.listen as Json).port;
    },
  },
];

for (const k of CASES) {
  test(`run ${k.role}: a bad ${k.field} is refused with exit 2, naming the field, before anything is written`, async () => {
    const r = await runPatched(k.role, k.from ?? k.role, k.patch);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /^flexlon run: FLX_CONFIG_INVALID: /);
    assert.ok(r.err.includes(`.json: ${k.field}: `), `names ${k.field}: ${r.err}`);
    assert.match(r.err, k.why);
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    assert.equal(r.out, '', 'never says ready');
    assert.equal(r.wrote, false, 'no store or key was written');
  });
}

test('a role whose port is taken stops with FLX_CONFIG_INVALID naming listen, before writing its store (issue 14 finding 7)', async () => {
  const { createServer } = await import('node:net');
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    for (const role of ['registry', 'gateway', 'bpp']) {
      const r = await runPatched(role, role, (c) => {
        (c.listen as Json).port = port;
      });
      assert.notEqual(r.code, 0, role);
      assert.match(
        r.err,
        new RegExp(`FLX_CONFIG_INVALID: listen: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`),
        role,
      );
      assert.equal(r.wrote, false, `${role}: no store or key was written`);
    }
    // A BPP whose compute agent's port is taken: named so, and neither store opened.
    const r = await runPatched('bpp', 'compute-energy/bpp', (c) => {
      ((c.computeEnergy as Json).listen as Json).port = port;
    });
    assert.match(
      r.err,
      new RegExp(
        `FLX_CONFIG_INVALID: computeEnergy\\.listen: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`,
      ),
    );
    assert.equal(r.wrote, false, 'compute agent: no store or key was written');
  } finally {
    await new Promise((r) => taken.close(r));
  }
});

test('a role whose key file is missing and not to be generated says how to get one', async () => {
  const r = await runPatched('gateway', 'gateway', (c) => {
    c.keys = { dir: 'keys', generate: false };
  });
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /FLX_CONFIG_INVALID: no key file for bg\.example\.local at .*keys\/bg\.example\.local\.json/);
  assert.match(r.err, /set "keys": \{"generate": true\}.*flexlon beckn keygen/);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  assert.equal(r.out, '', 'never says ready');
});
