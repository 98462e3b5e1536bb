// The shared steps of the site-move tests over real schedulers (test/e2e/slurm-move.test.ts over two
// real Slurm clusters, test/e2e/kubernetes-move.test.ts over two FakeKubeApi stand-ins): sites north
// and south behind one BPP, north capped to its base load for the next hour, both agents reporting,
// and the orchestrator's audit row of the move.
import type { Scheduler } from '../../src/ports.ts';
import { epochMs } from '../../src/domain/time.ts';
import { startFlexSites, type FlexSites } from './flex-site.ts';
import { eventually } from './slurm.ts';

const SLOT_MS = 1_800_000;
const BASE_KW = 1;

/**
 * north and south behind one BPP. Moves cost less than the default (£1 + £0.10 a GPU): the clusters
 * share a building here, and a job's lateness at north (£0.25 per GPU-hour by default) must
 * outweigh what its move costs.
 */
export const startNorthSouth = (schedulers: ReadonlyMap<string, Scheduler>): Promise<FlexSites> =>
  startFlexSites(
    [...schedulers].map(([site, scheduler]) => ({ site, scheduler, baseLoadKw: BASE_KW, itPowerLimitKw: 10 })),
    { moveCost: { gbpPerMove: 0.05, gbpPerGpu: 0.01 } },
  );

/**
 * North may import only its base load this slot and the next, so a job there would finish late;
 * then both agents report, south first: north has a commitment and no report yet, so the plan made
 * on south's report must leave that commitment out (it failed FLX_INTERNAL before: "commitment at
 * unknown site"), and the plan made on north's report knows where the job may move.
 */
export const capNorthAndReport = async (
  fleet: FlexSites,
  now: number,
  /** Runs while south has reported and north has not. */
  between: () => Promise<void> = async () => {},
): Promise<void> => {
  const slot0 = Math.floor(now / SLOT_MS) * SLOT_MS;
  await fleet.commit('order-north', 'north', epochMs(slot0), 2, BASE_KW + 0.01);
  await fleet.agents.get('south')!.agent.tick();
  await between();
  await fleet.agents.get('north')!.agent.tick();
};

/** The orchestrator's audit row of the job's move, once it has one with outcome `moved`. */
export const movedRow = (fleet: FlexSites, jobId: string) =>
  eventually('the orchestrator to audit the move', async () => {
    const rows = (await fleet.flexStore.auditTrail())
      .filter((r) => r.kind === 'dispatch' && (r.payload as { event?: string }).event === 'site-move')
      .map((r) => r.payload as { jobId: string; from: string; to: string; outcome: string; why?: string });
    return rows.find((r) => r.jobId === jobId && r.outcome === 'moved');
  });
