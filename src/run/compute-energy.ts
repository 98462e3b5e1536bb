// `flexlon run grid-agent` and `flexlon run bpp` with a `computeEnergy` section (issue 18,
// docs/beckn-2.md "Compute-energy"): the compute-energy agents of src/compose/compute-energy.ts
// started from their run configs (src/run/roles/compute-energy.ts), each on its config's clock and
// signals, and the compute agent wired to the Flexibility Orchestrator it buys windows for.
import { composeBpp, type ComposedBpp } from '../compose/bpp.ts';
import {
  composeComputeAgent,
  composeGridAgent,
  type ComposedComputeAgent,
  type ComposedGridAgent,
  type ComputeAgentConfig,
  type GridAgentConfig,
} from '../compose/compute-energy.ts';
import type { BppConfig, ClockConfig, SignalsConfig } from '../compose/config.ts';
import { assertPortFree, makeClock, makeSignals, type RunningRole } from '../compose/parts.ts';

/** `flexlon run grid-agent`: the grid agent reading windows from its config's signals, on its config's clock. */
export const composeGridAgentRole = (
  c: GridAgentConfig & { readonly clock: ClockConfig; readonly signals: SignalsConfig },
): Promise<ComposedGridAgent> => {
  const market = makeClock(c.clock);
  return composeGridAgent(c, { signals: makeSignals(c.signals), marketNow: () => market.now() });
};

export interface ComposedBppWithWindows extends RunningRole {
  readonly bpp: ComposedBpp;
  readonly compute?: ComposedComputeAgent;
}

/**
 * `flexlon run bpp`: the Flexibility Orchestrator, and, with a `computeEnergy` section, its compute
 * agent beside it (its own id, address and store; the BPP's keys folder, registry and log level):
 * the orchestrator plans on the compute agent's signals, re-plans when windows are bought or changed,
 * and the compute agent renews the windows and tells the grid agents the plan's workload shifts.
 */
export const composeBppWithComputeEnergy = async (
  c: BppConfig & { readonly computeEnergy?: Omit<ComputeAgentConfig, 'keys' | 'registry' | 'logLevel'> },
): Promise<ComposedBppWithWindows> => {
  if (!c.computeEnergy) {
    const bpp = await composeBpp(c);
    return { url: bpp.url, description: bpp.description, notes: bpp.notes ?? [], stop: () => bpp.stop(), bpp };
  }
  // Both addresses checked before either opens its store: a taken port leaves nothing written.
  await assertPortFree(c.listen);
  await assertPortFree(c.computeEnergy.listen, 'computeEnergy.listen');
  const market = makeClock(c.clock);
  const compute = await composeComputeAgent(
    { ...c.computeEnergy, keys: c.keys, registry: c.registry, logLevel: c.logLevel },
    { signals: makeSignals(c.signals), marketNow: () => market.now() },
  );
  let bpp: ComposedBpp;
  try {
    bpp = await composeBpp(c, { clock: market, signals: compute.signals, onPlanRecorded: (p) => compute.planned(p) });
  } catch (e) {
    await compute.stop();
    throw e;
  }
  compute.planWith(
    (reason) => bpp.orchestrator.dispatchAll(reason),
    () => bpp.store.latestPlan(),
  );
  compute.startRenewal();
  return {
    url: bpp.url,
    description: `${bpp.description}; ${compute.description}`,
    notes: bpp.notes ?? [],
    bpp,
    compute,
    async stop() {
      await compute.stop();
      await bpp.stop();
    },
  };
};
