// `flexlon events …`: check OpenADR 3-style grid programs and events (JSON files) and see the need
// each implies for the Grid Orchestrator, or post them to a running Grid Orchestrator.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GridEventStore, openSqliteStore } from '../compose/tools.ts';
import { DEFAULT_NEED_POLICY } from '../agents/grid/need-detection.ts';
import { DSO_PRODUCTS, eventToNeed } from '../domain/grid-events.ts';
import { FlexError } from '../errors.ts';
import { parseFlags, type Command, type Output } from './command.ts';
import { readJsonFile } from '../formats/json.ts';

const USAGE = `Usage: flexlon events <validate|post> FILE [options]

FILE holds an OpenADR 3-style program, an event, or {"programs": [...], "events": [...]}; an event's
programID may name a program by its programName. FlexLon's profile (docs/signals.md): programType
DSO_PEAK_REDUCTION, DSO_SCHEDULED_UTILISATION, DSO_OPERATIONAL_UTILISATION or
DSO_OPERATIONAL_UTILISATION_SCHEDULED_AVAILABILITY; payloads PRICE (£/MWh utilisation), GHG,
IMPORT_CAPACITY_LIMIT (kW), DISPATCH_SETPOINT (kW), SIMPLE (0–3), X_FLX_AVAILABILITY_PRICE (£/MW/h).

  validate FILE           check the file and print the need each event gives the Grid Orchestrator
  post FILE --url URL --token-file FILE
                          post the programs, then the events, to a running Grid Orchestrator
                          (its OpenADR token is in <run folder>/openadr.token)`;

const utc = (t: number) => new Date(t).toISOString().slice(0, 16) + 'Z';

const validate = async (file: string, io: Output): Promise<number> => {
  // A throw-away store: validation runs the same checks as the HTTP intake.
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-events-'));
  const store = await openSqliteStore(join(dir, 'check.db'));
  try {
    const events = new GridEventStore(store, 'flexlon-cli');
    const { programs, events: evs } = await events.loadFile(file);
    io.out(`${file}: ${programs.length} program(s), ${evs.length} event(s), all valid`);
    for (const e of evs) {
      const program = await events.program(e.programID);
      const n = eventToNeed(e, program, DEFAULT_NEED_POLICY);
      const product =
        program?.programType && program.programType in DSO_PRODUCTS
          ? DSO_PRODUCTS[program.programType as keyof typeof DSO_PRODUCTS].name
          : (program?.programType ?? 'unspecified');
      io.out(`  event "${e.eventName ?? e.id}" (program ${program?.programName}, ${product}):`);
      io.out(
        n
          ? `    need ${n.need.kind}: ${utc(n.need.windowStart)}–${utc(n.need.windowEnd)}, up to ${n.need.wantedKw} kW, at most ${n.need.maxPriceGbpPerMwh} £/MWh${n.importLimitKw === undefined ? '' : `, import ≤ ${n.importLimitKw} kW`}${n.availabilityGbpPerMwH === undefined ? '' : `, availability ${n.availabilityGbpPerMwH} £/MW/h`}; targets ${JSON.stringify(n.targets)}`
          : '    asks for nothing (no limit, set-point, SIMPLE ≥ 1, price or GHG)',
      );
    }
    return 0;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

const post = async (file: string, url: string, tokenFile: string, io: Output): Promise<number> => {
  let token: string;
  try {
    token = readFileSync(tokenFile, 'utf8').trim();
  } catch (e) {
    throw new FlexError('FLX_CONFIG_INVALID', `--token-file: cannot read ${tokenFile}: ${(e as Error).message}`, {
      path: '--token-file',
    });
  }
  const body = readJsonFile(file) as Record<string, unknown>;
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new FlexError(
      'FLX_DATA_INVALID',
      `${file}: expected a JSON object (a program, an event, or {programs, events})`,
    );
  const programs = 'programName' in body ? [body] : ((body.programs as unknown[] | undefined) ?? []);
  const events = 'intervals' in body ? [body] : ((body.events as unknown[] | undefined) ?? []);
  const ids = new Map<string, string>();
  const send = async (path: string, obj: unknown) => {
    let res: Response;
    try {
      res = await fetch(`${url.replace(/\/$/, '')}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(obj),
      });
    } catch (e) {
      throw new FlexError('FLX_PEER_UNREACHABLE', `cannot reach ${url}: ${(e as Error).message}`);
    }
    const answer = (await res.json()) as Record<string, unknown>;
    if (!res.ok)
      throw new FlexError(
        'FLX_PEER_NACK',
        `${path} answered ${res.status}: ${String(answer.title)}: ${String(answer.detail)}`,
      );
    return answer;
  };
  for (const p of programs) {
    const saved = await send('/openadr/programs', p);
    ids.set(String((p as { programName: string }).programName), String(saved.id));
    io.out(`program ${String(saved.programName)} → id ${String(saved.id)}`);
  }
  for (const e of events) {
    const ev = e as { programID: string };
    const saved = await send('/openadr/events', { ...ev, programID: ids.get(ev.programID) ?? ev.programID });
    io.out(`event ${String(saved.eventName ?? '')} → id ${String(saved.id)}`);
  }
  return 0;
};

export const eventsCommand: Command = {
  name: 'events',
  summary: 'check or post OpenADR 3-style grid programs and events (DSO needs, constraints)',
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    const { values, positionals } = parseFlags(
      rest,
      { url: { type: 'string' }, 'token-file': { type: 'string' } },
      USAGE,
      true,
    );
    const file = positionals[0];
    if (!file || positionals.length !== 1) throw new FlexError('FLX_CLI_USAGE', `give one FILE\n\n${USAGE}`);
    if (sub === 'validate') return validate(file, io);
    if (sub === 'post') {
      if (!values.url || !values['token-file'])
        throw new FlexError('FLX_CLI_USAGE', `post needs --url and --token-file\n\n${USAGE}`);
      return post(file, values.url, values['token-file'], io);
    }
    throw new FlexError(
      'FLX_CLI_USAGE',
      `${sub === undefined ? 'a subcommand is needed' : `unknown subcommand "${sub}"`}: validate or post\n\n${USAGE}`,
    );
  },
};
