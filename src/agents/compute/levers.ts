// The levers beside job start times that a dispatch may carry for the current slot (issue 13 items
// 2 and 4): a power for each cappable running job, turned into watts per GPU here, where the
// scheduler's cap range is known; and the site battery's setpoint. Each answers with an Actuation,
// so a refusal (a cap the GPU does not accept, a setpoint beyond the battery's limits) is reported
// to the orchestrator with the next report, like a refused start time.
import { batteryActuationId, type Actuation, type ComputeJob } from '../../domain/compute.ts';
import type { BatteryInstruction, PowerCapInstruction } from '../../optimise/dispatch.ts';
import type { Scheduler, SiteBattery } from '../../ports.ts';

/**
 * Watts per GPU that make a job draw `powerKw`: linear between its lowest cap (minPowerKw at minW)
 * and full power (powerKw at maxW). The measured draw-vs-cap curves are close to linear over that
 * range (src/sim/power-cap.ts); the meter, not this mapping, settles what was delivered.
 */
export const capWattsFor = (
  job: Pick<ComputeJob, 'powerCapRangeW' | 'minPowerKw' | 'powerKw'>,
  powerKw: number,
): number | undefined => {
  const range = job.powerCapRangeW;
  const floor = job.minPowerKw;
  if (!range || floor === undefined || !(job.powerKw > floor)) return undefined;
  const share = Math.min(1, Math.max(0, (powerKw - floor) / (job.powerKw - floor)));
  // nvidia-smi -pl takes whole watts; rounding down never draws more than planned.
  return Math.max(range.minW, Math.floor(range.minW + share * (range.maxW - range.minW)));
};

export const applyPowerCaps = async (
  scheduler: Scheduler,
  jobs: ReadonlyMap<string, ComputeJob>,
  caps: readonly PowerCapInstruction[],
): Promise<Actuation[]> => {
  const out: Actuation[] = [];
  for (const c of caps) {
    const job = jobs.get(c.jobId);
    if (c.powerKw === null) {
      out.push(await scheduler.setPowerCap(c.jobId, null));
      continue;
    }
    const watts = job ? capWattsFor(job, c.powerKw) : undefined;
    if (watts === undefined) {
      out.push({
        ok: false,
        jobId: c.jobId,
        reason: job
          ? `job ${c.jobId}: the scheduler reports no GPU cap range for it, so ${c.powerKw.toFixed(1)} kW cannot be set`
          : `no running job ${c.jobId} at this site`,
        code: job ? 'unsupported' : 'not-found',
      });
      continue;
    }
    out.push(await scheduler.setPowerCap(c.jobId, watts));
  }
  return out;
};

export const applyBattery = async (
  site: string,
  battery: SiteBattery | undefined,
  instruction: BatteryInstruction | undefined,
): Promise<Actuation[]> => {
  if (!instruction) return [];
  const id = batteryActuationId(site);
  if (!battery) return [{ ok: false, jobId: id, reason: `site ${site} has no battery`, code: 'unsupported' }];
  const r = await battery.setPower(instruction.kw, instruction.until);
  return [r.ok ? { ok: true, jobId: id } : { ...r, jobId: id }];
};
