// `flexlon run <role> --config FILE`: one participant of the market as its own process, the way an
// operator deploys FlexLon (docs/operator-guide.md, "Running each participant as its own process").
// Prints one line when it is ready; SIGTERM or SIGINT stops it cleanly (servers closed, outbox
// drain finished, store closed) with exit status 0. A bad config is exit 2 with the field named.
import { FlexError } from '../errors.ts';
import { composeAgent } from '../compose/agent.ts';
import { composeBap } from '../compose/bap.ts';
import { composeBppWithComputeEnergy, composeGridAgentRole } from '../run/compute-energy.ts';
import { composeGateway } from '../compose/gateway.ts';
import type { RunningRole } from '../compose/parts.ts';
import { composeRegistry } from '../compose/registry.ts';
import { ConfigReader } from '../run/config-reader.ts';
import { readAgent, readBap, readBpp, readGateway, readGridAgent, readRegistry } from '../run/roles.ts';
import { parseFlags, type Command } from './command.ts';

// Each role: its JSON parsed into its typed config (src/run/roles/<role>.ts), then its composer.
const ROLES: Record<string, (c: ConfigReader) => Promise<RunningRole>> = {
  // With a `computeEnergy` section, the BPP's compute agent beside it (DEG compute-energy, docs/beckn-2.md).
  bpp: (c) => composeBppWithComputeEnergy(readBpp(c)),
  agent: (c) => composeAgent(readAgent(c)),
  registry: (c) => composeRegistry(readRegistry(c)),
  gateway: (c) => composeGateway(readGateway(c)),
  bap: (c) => composeBap(readBap(c)),
  'grid-agent': (c) => composeGridAgentRole(readGridAgent(c)),
};

const USAGE = `Usage: flexlon run <role> --config FILE

Runs one participant of the flexibility market as its own process, with its state in its store
(SQLite file or PostgreSQL schema): restarted, it carries on from what is stored.

Roles:
  bpp        the Flexibility Orchestrator (Beckn BPP): orders, offers, plans, dispatch, /metrics
  agent      a Compute-Flex agent beside one site's scheduler (simulated or Slurm)
  registry   a Beckn registry (subscribe, lookup)
  gateway    a Beckn gateway (BG): fans a search out to every BPP of the domain
  bap        the Grid Orchestrator (Beckn BAP): finds the day's need, buys flexibility, follows
             delivery to settlement
  grid-agent a DEG compute-energy grid agent (Beckn 2.0 BPP): sells low-carbon grid windows per
             grid area (a bpp config's "computeEnergy" section buys them for its plan)

Options:
  --config FILE   the role's JSON config; docs/operator-guide.md lists every field, and
                  docs/examples/run/ has one config per role
  -h, --help      this help

Prints "ready" once it answers; SIGTERM or SIGINT stops it cleanly (exit 0).`;

export const runCommand: Command = {
  name: 'run',
  summary: 'run one participant (bpp, agent, registry, gateway, bap, grid-agent) as its own process',
  usage: USAGE,
  service: true,
  async run(argv, io, signal) {
    const { values, positionals } = parseFlags(argv, { config: { type: 'string' } }, USAGE, true);
    const [role, ...extra] = positionals;
    if (role === undefined || !(role in ROLES))
      throw new FlexError(
        'FLX_CLI_USAGE',
        `${role === undefined ? 'name a role' : `unknown role "${role}"`}: one of ${Object.keys(ROLES).join(', ')}\n\n${USAGE}`,
      );
    if (extra.length > 0) throw new FlexError('FLX_CLI_USAGE', `unexpected argument "${extra[0]}"\n\n${USAGE}`);
    if (values.config === undefined) throw new FlexError('FLX_CLI_USAGE', `--config FILE is required\n\n${USAGE}`);
    const config = ConfigReader.load(values.config);
    if (config.has('role') && config.string('role') !== role)
      config.fail('role', `this config is for "${config.string('role')}", not "${role}"`);
    const start = ROLES[role];
    if (!start) throw new FlexError('FLX_CLI_USAGE', USAGE);
    const running = await start(config);
    io.out(`flexlon run ${role}: ${running.description}: ready`);
    for (const note of running.notes ?? []) io.out(`flexlon run ${role}: note: ${note}`);
    if (!signal.aborted)
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await running.stop();
    io.out(`flexlon run ${role}: stopped`);
    return 0;
  },
};
