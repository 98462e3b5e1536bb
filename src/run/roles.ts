// `flexlon run ROLE --config FILE`: the JSON file parsed into the role's typed config
// (src/compose/config.ts), field by field, failing fast with FLX_CONFIG_INVALID naming the file and
// the field. Nothing here starts anything: the composers in src/compose/ do (docs/operator-guide.md,
// "Running each participant as its own process", lists every field). One file per role in roles/.
export { readClock, readKeys, readListen, readLogLevel, readPeerKey, readSignals, readStore } from './roles/common.ts';
export { readAgent } from './roles/agent.ts';
export { readBap } from './roles/bap.ts';
export { readBpp, type BppRunConfig } from './roles/bpp.ts';
export { readComputeEnergy, readGridAgent, type GridAgentRunConfig } from './roles/compute-energy.ts';
export { readGateway } from './roles/gateway.ts';
export { readRegistry } from './roles/registry.ts';
