// `flexlon run bap`: the Grid Orchestrator's need policy, monitoring, timings and meter files.
import { DEFAULT_MONITOR, type MonitorPolicy } from '../../agents/grid/monitor.ts';
import { DEFAULT_NEED_POLICY, type NeedPolicy } from '../../agents/grid/need-detection.ts';
import type { BapConfig } from '../../compose/config.ts';
import type { BapRunConfig, BuyerMeterFile, BuyerMeterUnit } from '../../compose/bap.ts';
import type { ConfigReader } from '../config-reader.ts';
import { readDashboard, readParticipant, readVerifyThreads } from './common.ts';

const readPolicy = (c: ConfigReader): NeedPolicy => {
  const p = c.object('policy', {});
  const d = DEFAULT_NEED_POLICY;
  const windowSlots = p.number('windowSlots', d.windowSlots, 1, 48, true);
  const leadSlots = p.number('leadSlots', d.leadSlots, 0, 96, true);
  const wantedKw = p.number('wantedKw', d.wantedKw, 1, 1e7);
  const maxPriceGbpPerMwh = p.number('maxPriceGbpPerMwh', d.maxPriceGbpPerMwh, 0, 100_000);
  const priceWeight = p.number('priceWeight', d.priceWeight, 0, 1);
  const hours = p.has('peakHours') ? p.numbers('peakHours', 2, 0, 24) : [...d.peakHours];
  if ((hours[0] ?? 0) >= (hours[1] ?? 0))
    p.fail('peakHours', `must be [from, to) hours of the day with from < to, got ${JSON.stringify(hours)}`);
  const procureLeadSlots = p.number('procureLeadSlots', d.procureLeadSlots, 1, 96, true);
  const monitor = readMonitor(p);
  p.done();
  return {
    windowSlots,
    leadSlots,
    wantedKw,
    maxPriceGbpPerMwh,
    priceWeight,
    peakHours: [hours[0] ?? 0, hours[1] ?? 24],
    procureLeadSlots,
    ...(monitor ? { monitor } : {}),
  };
};

/**
 * `policy.monitor` (src/agents/grid/monitor.ts): {"tolerance": share 0–1, default 0.05, the WPD
 * Flexible Power tolerance; "topUp": true | false, default false}. Present (even `{}`): status is
 * asked of every part at each slot of its window and a shortfall beyond the tolerance is alerted
 * (and topped up from another provider if `topUp`); absent: no status until after the window.
 */
const readMonitor = (p: ConfigReader): MonitorPolicy | undefined => {
  const m = p.optionalObject('monitor');
  if (!m) return undefined;
  const tolerance = m.number('tolerance', DEFAULT_MONITOR.tolerance, 0, 1);
  const topUp = m.boolean('topUp', DEFAULT_MONITOR.topUp);
  m.done();
  return { tolerance, topUp };
};

/**
 * `meters`: the buyer's own meter data, one file per site it buys from ([{"site", "file", "unit"?}]):
 * a meter CSV (src/formats/meter-csv.ts; `unit` kWh or kW where the header does not say) or a saved
 * Prometheus query_range answer, a `.json` file (src/formats/prometheus-range.ts; `unit` W or kW).
 * The files are read when the BAP starts (src/compose/bap.ts), and again when they change.
 */
const readMeters = (c: ConfigReader): { meters?: BuyerMeterFile[] } => {
  if (!c.has('meters')) return {};
  const meters = c.array('meters', 1).map((m): BuyerMeterFile => {
    const site = m.string('site');
    const file = m.filePath('file');
    // A CSV is energy or power per period; a Prometheus series is power.
    const units: readonly BuyerMeterUnit[] = file.toLowerCase().endsWith('.json') ? ['W', 'kW'] : ['kWh', 'kW'];
    const unit = m.has('unit') ? m.oneOf('unit', units) : undefined;
    m.done();
    return { site, file, ...(unit ? { unit } : {}) };
  });
  const seen = new Set<string>();
  meters.forEach((m, i) => {
    if (seen.has(m.site))
      c.fail(`meters[${i}].site`, `names ${JSON.stringify(m.site)} a second time: one meter file per site`);
    seen.add(m.site);
  });
  return { meters };
};

export const readBap = (c: ConfigReader): BapRunConfig => {
  const { id, logLevel, listen, store, keys, registry, clock, signals } = readParticipant(c);
  const region = c.string('region', 'GB');
  const slotMinutes = c.number('slotMinutes', 30, 5, 60, true);
  const policy = readPolicy(c);
  const collectMs = c.number('collectMs', 5000, 100, 120_000, true);
  const callbackTimeoutMs = c.number('callbackTimeoutMs', 10_000, 100, 120_000, true);
  const verifyThreads = readVerifyThreads(c);
  const o = c.optionalObject('openadr');
  let openadr: BapConfig['openadr'];
  if (o) {
    openadr = { tokenFile: o.filePath('tokenFile') };
    o.done();
  }
  const dashboard = readDashboard(c);
  const meters = readMeters(c);
  c.optionalString('role');
  c.done();
  return {
    id,
    logLevel,
    listen,
    store,
    keys,
    registry,
    clock,
    signals,
    region,
    slotMinutes,
    policy,
    collectMs,
    callbackTimeoutMs,
    verifyThreads,
    ...(openadr ? { openadr } : {}),
    ...dashboard,
    ...meters,
  };
};
