// The GPU meter as `flexlon run agent` builds it: an agent config file with a Slurm scheduler and a
// `meter` object, read by readAgent (fields checked, unknown ones refused) and composed by
// composeAgent, whose meter is then the GPU meter over the RECORDING nvidia-smi STAND-IN
// (test/helpers/nvidia-smi-standin.ts). No Slurm or GPU is needed: the agent reports nowhere
// (drive: external) and its squeue polls fail quietly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeAgent } from '../../src/compose/agent.ts';
import { epochMs } from '../../src/domain/time.ts';
import { FlexError } from '../../src/errors.ts';
import { ConfigReader } from '../../src/run/config-reader.ts';
import { readAgent } from '../../src/run/roles.ts';
import { nvidiaSmiStandin } from '../helpers/nvidia-smi-standin.ts';
import { projectRoot } from '../helpers/shared.ts';

type Json = Record<string, unknown>;

const agentConfig = (dir: string, meter: Json | undefined, scheduler?: Json): string => {
  const c = JSON.parse(readFileSync(join(projectRoot, 'docs', 'examples', 'run', 'agent.json'), 'utf8')) as Json;
  c.clock = { kind: 'system' };
  c.logLevel = 'silent';
  c.scheduler = scheduler ?? { kind: 'slurm', binDir: join(dir, 'no-slurm'), partitions: { batch: {} } };
  c.orchestrator = { url: 'http://127.0.0.1:9', id: 'dc.example.local', keyId: 'k1', publicKey: 'AAAA' };
  c.keys = { dir: join(dir, 'keys'), generate: true };
  c.store = { sqlite: join(dir, 'agent.db') };
  if (meter) c.meter = meter;
  const file = join(dir, 'agent.json');
  writeFileSync(file, JSON.stringify(c));
  return file;
};

const refused = (dir: string, meter: Json, field: string, why: RegExp, scheduler?: Json) =>
  assert.throws(
    () => readAgent(ConfigReader.load(agentConfig(dir, meter, scheduler))),
    (e: unknown) =>
      e instanceof FlexError &&
      e.code === 'FLX_CONFIG_INVALID' &&
      e.path === field &&
      why.test(e.message) &&
      e.message.includes(`agent.json: ${field}: `),
  );

test('readAgent: the meter object, its defaults, and each bad field refused by name', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-meter-cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const c = readAgent(ConfigReader.load(agentConfig(dir, { kind: 'nvidia-smi', nodes: ['gpu01', 'gpu02'] })));
  assert.deepEqual(c.meter, {
    kind: 'nvidia-smi',
    nodes: ['gpu01', 'gpu02'],
    intervalSeconds: 10,
    timeoutSeconds: 10,
    nonGpuKwPerNode: 0,
    command: ['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '{node}', 'nvidia-smi'],
  });
  const d = readAgent(
    ConfigReader.load(
      agentConfig(dir, {
        kind: 'dcgm',
        url: 'http://{node}:9400/metrics',
        nodes: ['gpu01'],
        intervalSeconds: 30,
        nonGpuKwPerNode: 2.4,
        pue: 1.2,
      }),
    ),
  );
  assert.deepEqual(d.meter, {
    kind: 'dcgm',
    nodes: ['gpu01'],
    intervalSeconds: 30,
    timeoutSeconds: 10,
    nonGpuKwPerNode: 2.4,
    pue: 1.2,
    url: 'http://{node}:9400/metrics',
    hostLabel: 'Hostname',
  });
  assert.equal(readAgent(ConfigReader.load(agentConfig(dir, undefined))).meter, undefined);
  refused(dir, { kind: 'ipmi', nodes: ['a'] }, 'meter.kind', /must be one of nvidia-smi, dcgm/);
  refused(dir, { kind: 'nvidia-smi', nodes: [] }, 'meter.nodes', /at least one GPU node/);
  refused(dir, { kind: 'nvidia-smi', nodes: ['-oProxyCommand=x'] }, 'meter.nodes', /must be host names/);
  refused(dir, { kind: 'nvidia-smi', nodes: ['a', 'b'], command: ['nvidia-smi'] }, 'meter.command', /\{node\}/);
  refused(dir, { kind: 'nvidia-smi', nodes: ['a'], pue: 0.8 }, 'meter.pue', /from 1 to 3/);
  refused(dir, { kind: 'nvidia-smi', nodes: ['a'], nonGPUKwPerNode: 1 }, 'meter.nonGPUKwPerNode', /not a known field/);
  refused(dir, { kind: 'dcgm', nodes: ['a'], url: 'ftp://x' }, 'meter.url', /http\(s\) URL/);
  refused(dir, { kind: 'nvidia-smi', nodes: ['a'] }, 'meter', /real site/, { kind: 'sim' });
});

test('composeAgent: a Slurm site with a meter reads it through the stand-in, shows it in /health, stops it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-meter-agent-'));
  const smi = nvidiaSmiStandin();
  t.after(() => {
    smi.remove();
    rmSync(dir, { recursive: true, force: true });
  });
  smi.set('gpu01', { mode: 'query', gpus: 8 });
  smi.set('gpu02', { mode: 'query', gpus: 8 });
  const c = readAgent(
    ConfigReader.load(
      agentConfig(dir, {
        kind: 'nvidia-smi',
        nodes: ['gpu01', 'gpu02'],
        command: [smi.path, '{node}', 'nvidia-smi'],
        intervalSeconds: 1,
        nonGpuKwPerNode: 2,
        pue: 1.25,
      }),
    ),
  );
  // Any free port (a config file must name one).
  const role = await composeAgent(
    { ...c, listen: { host: '127.0.0.1', port: 0, publicUrl: 'http://127.0.0.1:0' } },
    { drive: 'external' },
  );
  let stopped = false;
  t.after(async () => {
    if (!stopped) await role.stop();
  });
  assert.ok(role.gpuMeter, 'the agent has a GPU meter');
  assert.equal(role.agent.deps.meter, role.gpuMeter, "the agent's meter port is the GPU meter");
  // Wait for the first poll (it starts with the role), then read the current period's state.
  const meter = role.gpuMeter;
  for (let k = 0; k < 100 && meter.status().gpu02?.gpuW === undefined; k++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(smi.calls().some((a) => a[0] === 'gpu01') && smi.calls().some((a) => a[0] === 'gpu02'));
  const health = (await (await fetch(`${role.url}/health`)).json()) as { meter?: Record<string, { gpuW?: number }> };
  assert.ok(Math.abs((health.meter?.gpu01?.gpuW ?? 0) - 8 * 78.28) < 1e-9, JSON.stringify(health.meter));
  // A period long past has no samples and no saved reading: unknown, not zero.
  const past = await role.gpuMeter.importKw({ start: epochMs(Date.UTC(2026, 0, 1)), slotMinutes: 30, slots: 1 });
  assert.ok(Number.isNaN(past[0]));
  await role.stop();
  stopped = true;
  const n = smi.calls().length;
  await new Promise((r) => setTimeout(r, 1300));
  assert.equal(smi.calls().length, n, 'the meter stopped polling with the role');
});
