// The composition root: the only place that picks adapters and wires the roles (lint enforces it:
// nothing outside src/compose/ imports src/adapters/). One composer per role, each taking its typed
// config (./config.ts): registry, gateway, bpp, agent, bap; the demo's market is built from them.
export { composeAgent, type ComposedAgent } from './agent.ts';
export { composeBap, type ComposedBap } from './bap.ts';
export { BL01_METHOD, bl01For, simulatedHistory } from './baseline.ts';
export { composeBpp, type ComposedBpp, type SharedParts } from './bpp.ts';
export type * from './config.ts';
export { composeGateway, type ComposedGateway } from './gateway.ts';
export { composeMarket, SIM_SITES, type Market, type MarketHooks, type MarketSite } from './market.ts';
export { ensureDataDir, MAX_SITES } from './market-config.ts';
export { HORIZON_SLOTS, SLOT_MINUTES } from './market-roles.ts';
export { defaultStoreConfig, dispatchKeyId, freePort, openStore, storeOpener, type RunningRole } from './parts.ts';
export { composeRegistry, type ComposedRegistry } from './registry.ts';
export { createPlanningSolver, greedySolver, plannerOf } from './solver.ts';
