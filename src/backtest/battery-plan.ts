// A planner strategy's plans for its sites' batteries (site-sim.ts), made beside the jobs' plan
// (planner-strategy.ts) and checkpointed with it.
// - A site's battery is planned apart from its jobs, at the prices without the capacity value (a
//   price on deferring work, not one a battery pays: on a ramp of £117.5/MWh an hour it would charge
//   now to discharge two days on) but with the pay of product windows announced by then, with the
//   job plan's load held (Solver.planBatteries), afresh every period from its metered stored energy.
//   A commitment counts its planned discharge (commitments.ts offersAt).
// - A committed window's hold (window-book.ts) travels with the setpoint: the site's import is kept
//   at or below it (batteryAt).
import type { BatterySchedule, JobSchedule, PlanningProblem } from '../domain/planning.ts';
import { PERIOD_MS } from '../domain/settlement-day.ts';
import type { Solver } from '../ports.ts';
import type { Carry } from './planner-options.ts';
import type { BatterySetpoint } from './site-battery.ts';
import type { SiteSim } from './site-sim.ts';
import type { DecideContext } from './strategies.ts';
import type { WindowBook } from './window-book.ts';

export interface BatteryPlan {
  readonly period: number;
  readonly battery: BatterySchedule;
}

export class BatteryPlans {
  /** Each battery site's last battery plan. */
  private batteries: Map<string, BatteryPlan>;

  constructor(
    private readonly solver: Solver,
    /** The strategy's product windows (shared with it): what the battery keeps energy for, and holds. */
    private readonly book: WindowBook,
    saved?: Record<string, BatteryPlan>,
  ) {
    this.batteries = new Map(Object.entries(saved ?? {}));
  }

  /** How many sites have a battery plan. */
  get size(): number {
    return this.batteries.size;
  }

  /**
   * The battery's plan for the period: afresh from its stored energy now, at the period's prices
   * (without the capacity value; with the pay of the product windows announced by now, so a battery
   * keeps energy for a window it can be paid for), with the site's last job plan (`carry`) held. Its import
   * may not go negative: the battery discharges into the jobs' planned power and the training pool's
   * idle power, which the site always draws (the inference pool's, not forecast here, is left out).
   */
  async planBattery(
    site: SiteSim,
    problem: PlanningProblem,
    ctx: DecideContext,
    carry: Carry | undefined,
  ): Promise<void> {
    if (!problem.sites.some((x) => x.battery)) return;
    const period = ctx.period;
    const id = site.spec.id;
    const shift = carry ? period - carry.period : 0;
    const held = (carry?.schedule.jobs ?? []).map((j) => ({ ...j, powerKw: j.powerKw.slice(shift) }));
    const jobs = [
      ...held,
      { id: 'idle', site: id, powerKw: new Array<number>(problem.slots).fill(site.spec.trainingIdleKw) },
      this.windowFill(site, held, problem.slots, ctx),
    ];
    // A solver without planBatteries (the greedy one) leaves the battery holding its charge.
    const planned = await this.solver.planBatteries?.(problem, jobs);
    const battery = planned?.find((b) => b.site === id);
    if (battery) this.batteries.set(id, { period, battery });
    else this.batteries.delete(id);
  }

  /**
   * In the windows whose pay the site's jobs see only in part (its battery answers the rest), the jobs
   * are not kept out: whatever arrives may run there. So the battery is planned, and the commitment
   * made (commitments.ts offersAt), as if every GPU were busy in them: the IT power the held plan
   * leaves below full load, as one more load to carry (window-choice.ts).
   */
  private windowFill(site: SiteSim, held: readonly JobSchedule[], slots: number, ctx: DecideContext): JobSchedule {
    const id = site.spec.id;
    const full = site.spec.trainingMaxKw - site.spec.trainingIdleKw;
    const powerKw = new Array<number>(slots).fill(0);
    for (let t = 0; t < slots; t++) {
      if (!this.book.batteryCarries(id, ctx.now + t * PERIOD_MS, ctx.now)) continue;
      const planned = held.reduce((a, j) => a + (j.site === id ? (j.powerKw[t] ?? 0) : 0), 0);
      powerKw[t] = Math.max(0, full - planned);
    }
    return { id: 'window-fill', site: id, powerKw };
  }

  /** The battery setpoint of a site for the period `period` from its last battery plan, and its hold. */
  batteryAt(id: string, period: number): BatterySetpoint | undefined {
    const b = this.batteries.get(id);
    if (!b) return undefined;
    const t = period - b.period;
    const cap = this.book.capAt(id, period);
    return {
      chargeKw: b.battery.chargeKw[t] ?? 0,
      dischargeKw: b.battery.dischargeKw[t] ?? 0,
      ...(cap === undefined ? {} : { importCapKw: cap }),
    };
  }

  /** The plans as the strategy's checkpoint has always written them (`batteries`). */
  save(): Record<string, BatteryPlan> {
    return Object.fromEntries(this.batteries);
  }
}
