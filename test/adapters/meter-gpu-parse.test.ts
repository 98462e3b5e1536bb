// The GPU meter's parsers on REAL nvidia-smi output recorded on an H200
// (../shared/traces/h200-duty-cycle-2026-12, read in place), and on a DCGM exporter text written by
// hand in the exporter's format (no real DCGM output exists here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FlexError } from '../../src/errors.ts';
import { parseDcgmMetrics } from '../../src/adapters/meter-gpu/parse-dcgm.ts';
import {
  gpuPowerFromQuery,
  parseMeterQuery,
  parsePowerText,
  parsePowerTrace,
  parseQueryCsv,
  parseQueryXml,
} from '../../src/adapters/meter-gpu/parse-nvidia-smi.ts';
import { sharedPath } from '../helpers/shared.ts';
import { TRACE_DIR } from '../helpers/nvidia-smi-standin.ts';

const real = (file: string) => readFileSync(sharedPath(...TRACE_DIR, file), 'utf8');

const H200_LIMITS = { powerLimitW: 700, defaultLimitW: 700, minLimitW: 200, maxLimitW: 700 };

const throwsCode = (fn: () => unknown, code: string, message: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof FlexError && e.code === code && message.test(e.message));

test('query.csv (header and units, as nvidia-smi prints without noheader,nounits): draw and every limit', () => {
  const rows = parseQueryCsv(real('query.csv'), ['name', 'power.draw', 'power.limit']);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.['utilization.gpu'], '0');
  assert.equal(rows[0]?.['clocks.max.sm'], '1980');
  assert.deepEqual(gpuPowerFromQuery(rows), [{ index: 0, name: 'NVIDIA H200', powerDrawW: 78.28, ...H200_LIMITS }]);
});

test("the meter's own query (noheader,nounits) in query.csv's values; the header form must carry its fields", () => {
  assert.deepEqual(parseMeterQuery('0, GPU-0, 78.28, 700.00\n1, GPU-1, 692.04, 700.00\n'), [
    { index: 0, uuid: 'GPU-0', powerDrawW: 78.28, powerLimitW: 700 },
    { index: 1, uuid: 'GPU-1', powerDrawW: 692.04, powerLimitW: 700 },
  ]);
  // query.csv has no index or uuid column: refused, naming what was missing.
  throwsCode(
    () => parseMeterQuery(real('query.csv'), 'nvidia-smi on gpu01'),
    'FLX_METER_INVALID',
    /gpu01.*lacks index, uuid/,
  );
});

test('nvidia-smi -q -x (nvidia-smi-q.xml): the instantaneous draw, uuid, model and limits', () => {
  assert.deepEqual(parseQueryXml(real('nvidia-smi-q.xml')), [
    {
      index: 0,
      uuid: 'GPU-00000000-0000-0000-0000-000000000000',
      name: 'NVIDIA H200',
      powerDrawW: 77.96,
      ...H200_LIMITS,
    },
  ]);
});

test('nvidia-smi -q -d POWER (nvidia-smi-power.txt): the GPU block, not the memory or module one', () => {
  assert.deepEqual(parsePowerText(real('nvidia-smi-power.txt')), [{ index: 0, powerDrawW: 77.96, ...H200_LIMITS }]);
});

test('power-trace.csv: 926 samples at 100 ms, UTC timestamps, idle to full load', () => {
  const t = parsePowerTrace(real('power-trace.csv'));
  assert.equal(t.length, 926);
  assert.deepEqual(t[0], { at: Date.parse('2026-12-04T16:40:57.793Z'), powerDrawW: 78.14 });
  assert.deepEqual(t.at(-1), { at: Date.parse('2026-12-04T16:42:30.498Z'), powerDrawW: 88.18 });
  const max = Math.max(...t.map((s) => s.powerDrawW));
  assert.ok(max > 650 && max <= 700, `peak ${max} W is near the 700 W limit`);
  for (let k = 1; k < t.length; k++) assert.ok((t[k]?.at ?? 0) > (t[k - 1]?.at ?? 0));
});

test('unparseable or unavailable output is FLX_METER_INVALID naming the node and what was expected', () => {
  throwsCode(
    () => parseMeterQuery(real('nvidia-smi-power.txt'), 'nvidia-smi on gpu07'),
    'FLX_METER_INVALID',
    /^nvidia-smi on gpu07: printed ".*" where 4 comma-separated values \(index, uuid, power.draw, power.limit\)/,
  );
  throwsCode(() => parseMeterQuery('', 'nvidia-smi on gpu07'), 'FLX_METER_INVALID', /gpu07: printed nothing/);
  throwsCode(
    () => parseMeterQuery('0, GPU-0, [N/A], 700.00', 'nvidia-smi on gpu07'),
    'FLX_METER_INVALID',
    /gpu07, GPU 0: power.draw is not available/,
  );
  throwsCode(
    () => parseMeterQuery('0, GPU-0, lots, 700', 'x'),
    'FLX_METER_INVALID',
    /power.draw is "lots", expected watts/,
  );
  throwsCode(
    () => parseQueryXml('Failed to initialize NVML'),
    'FLX_METER_INVALID',
    /<nvidia_smi_log> XML was expected/,
  );
});

// Hand-written in dcgm-exporter's Prometheus text format (default counters: DCGM_FI_DEV_POWER_USAGE
// in W, labels gpu, UUID, device, modelName, Hostname, DCGM_FI_DRIVER_VERSION); values from the H200 trace.
const DCGM_FIXTURE = `# HELP DCGM_FI_DEV_SM_CLOCK SM frequency (in MHz).
# TYPE DCGM_FI_DEV_SM_CLOCK gauge
DCGM_FI_DEV_SM_CLOCK{gpu="0",UUID="GPU-00000000-0000-0000-0000-000000000000",device="nvidia0",modelName="NVIDIA H200",Hostname="gpu01",DCGM_FI_DRIVER_VERSION="580.159.04"} 1500
# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).
# TYPE DCGM_FI_DEV_POWER_USAGE gauge
DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-00000000-0000-0000-0000-000000000000",device="nvidia0",modelName="NVIDIA H200",Hostname="gpu01",DCGM_FI_DRIVER_VERSION="580.159.04"} 692.000000
DCGM_FI_DEV_POWER_USAGE{gpu="1",UUID="GPU-00000000-0000-0000-0000-000000000001",device="nvidia1",modelName="NVIDIA H200",Hostname="gpu01",DCGM_FI_DRIVER_VERSION="580.159.04"} 124.5
DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-00000000-0000-0000-0000-000000000002",device="nvidia0",modelName="NVIDIA H200",Hostname="gpu02",DCGM_FI_DRIVER_VERSION="580.159.04"} 78.28
# HELP DCGM_FI_DEV_POWER_MGMT_LIMIT Power management limit (in W).
# TYPE DCGM_FI_DEV_POWER_MGMT_LIMIT gauge
DCGM_FI_DEV_POWER_MGMT_LIMIT{gpu="0",UUID="GPU-00000000-0000-0000-0000-000000000000",device="nvidia0",modelName="NVIDIA H200",Hostname="gpu01",DCGM_FI_DRIVER_VERSION="580.159.04"} 700
`;

test('DCGM exporter text (hand-written fixture): power per GPU grouped by Hostname, limit where exported', () => {
  const hosts = parseDcgmMetrics(DCGM_FIXTURE);
  assert.deepEqual([...hosts.keys()], ['gpu01', 'gpu02']);
  assert.deepEqual(hosts.get('gpu01'), [
    {
      index: 0,
      uuid: 'GPU-00000000-0000-0000-0000-000000000000',
      name: 'NVIDIA H200',
      powerDrawW: 692,
      powerLimitW: 700,
    },
    { index: 1, uuid: 'GPU-00000000-0000-0000-0000-000000000001', name: 'NVIDIA H200', powerDrawW: 124.5 },
  ]);
  assert.equal(hosts.get('gpu02')?.[0]?.powerDrawW, 78.28);
});

test('DCGM text without the power counter, without Hostname, or not Prometheus text: FLX_METER_INVALID', () => {
  throwsCode(
    () => parseDcgmMetrics('# only help\nDCGM_FI_DEV_SM_CLOCK{gpu="0",Hostname="a"} 1500\n', 'DCGM exporter http://a'),
    'FLX_METER_INVALID',
    /http:\/\/a: no DCGM_FI_DEV_POWER_USAGE samples/,
  );
  throwsCode(() => parseDcgmMetrics('DCGM_FI_DEV_POWER_USAGE{gpu="0"} 80\n'), 'FLX_METER_INVALID', /no Hostname label/);
  throwsCode(() => parseDcgmMetrics('<html>Not Found</html>'), 'FLX_METER_INVALID', /is not a Prometheus sample/);
});
