// `flexlon run <role> --config FILE`: one participant of the market as its own process, the way an
// operator deploys FlexLon (docs/operator-guide.md, "Running each participant as its own process").
// Prints one line when it is ready; SIGTERM or SIGINT stops it cleanly (servers closed, outbox
// drain finished, store closed) with exit status 0. A bad config is exit 2 with the field named.
import { FlexError } from '../errors.ts';
import { startAgent } from '../run/agent.ts';
import { startBpp } from '../run/bpp.ts';
import { ConfigReader } from '../run/config-reader.ts';
import type { RunningRole } from '../run/common.ts';
import { startGateway, startRegistry } from '../run/network.ts';
import { parseFlags, type Command } from './command.ts';

const ROLES: Record<string, (c: ConfigReader) => Promise<RunningRole>> = {
  bpp: startBpp,
  agent: startAgent,
  registry: startRegistry,
  gateway: startGateway,
};

const USAGE = `Usage: flexlon run <role> --config FILE

Runs one participant of the flexibility market as its own process, with its state in its store
(SQLite file or PostgreSQL schema): restarted, it carries on from what is stored.

Roles:
  bpp        the Flexibility Orchestrator (Beckn BPP): orders, offers, plans, dispatch, /metrics
  agent      a Compute-Flex agent beside one site's scheduler (simulated or Slurm)
  registry   a Beckn registry (subscribe, lookup)
  gateway    a Beckn gateway (BG): fans a search out to every BPP of the domain

Options:
  --config FILE   the role's JSON config; docs/operator-guide.md lists every field, and
                  docs/examples/run/ has one config per role
  -h, --help      this help

Prints "ready" once it answers; SIGTERM or SIGINT stops it cleanly (exit 0).`;

export const runCommand: Command = {
  name: 'run',
  summary: 'run one participant (bpp, agent, registry, gateway) as its own process',
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
    if (!signal.aborted)
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await running.stop();
    io.out(`flexlon run ${role}: stopped`);
    return 0;
  },
};
