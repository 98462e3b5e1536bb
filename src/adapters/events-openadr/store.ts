// Grid events and programs kept in an agent's Store (named documents plus an index), every change
// written to the audit chain. Ids and createdDateTime are assigned here, as an OpenADR VTN does.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FlexError } from '../../errors.ts';
import {
  eventToNeed,
  type EventNeed,
  type GridEvent,
  type NeedDefaults,
  type Program,
} from '../../domain/grid-events.ts';
import type { Store } from '../../ports.ts';
import { parseJsonText } from '../../formats/json.ts';
import { validateEvent, validateProgram } from './schema.ts';

const INDEX = 'oadr.index';

export class GridEventStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly actor: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** One change at a time, so the index never loses an id to a concurrent request. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async ids(kind: 'programs' | 'events'): Promise<string[]> {
    return (await this.store.getDocument<string[]>(INDEX, kind)) ?? [];
  }

  private async save(
    kind: 'programs' | 'events',
    doc: 'oadr.program' | 'oadr.event',
    obj: Program | GridEvent,
    source: string,
  ): Promise<void> {
    const id = obj.id as string;
    await this.store.putDocument(doc, id, obj);
    await this.store.putDocument(INDEX, kind, [...(await this.ids(kind)), id]);
    // Audit kind "signal": a grid event is a grid signal received (the kinds are fixed in src/audit/chain.ts).
    await this.store.appendAudit({
      kind: 'signal',
      at: this.now(),
      actor: this.actor,
      payload: { type: 'openadr', operation: 'create', objectType: obj.objectType, id, source, object: obj },
    });
  }

  addProgram(body: unknown, source: string): Promise<Program> {
    const p = validateProgram(body, source);
    return this.serial(async () => {
      for (const id of await this.ids('programs')) {
        if ((await this.program(id))?.programName === p.programName)
          throw new FlexError(
            'FLX_EVENT_INVALID',
            `${source}: a program named "${p.programName}" exists already (id ${id})`,
            { path: 'programName' },
          );
      }
      const saved: Program = {
        ...p,
        id: randomUUID(),
        objectType: 'PROGRAM',
        createdDateTime: new Date(this.now()).toISOString(),
      };
      await this.save('programs', 'oadr.program', saved, source);
      return saved;
    });
  }

  addEvent(body: unknown, source: string): Promise<GridEvent> {
    const e = validateEvent(body, source);
    return this.serial(async () => {
      if (!(await this.program(e.programID)))
        throw new FlexError(
          'FLX_EVENT_NOT_FOUND',
          `${source}: programID "${e.programID}" is not a program here; post the program first and use the id it was given`,
          { path: 'programID' },
        );
      const saved: GridEvent = {
        ...e,
        id: randomUUID(),
        objectType: 'EVENT',
        createdDateTime: new Date(this.now()).toISOString(),
      };
      await this.save('events', 'oadr.event', saved, source);
      return saved;
    });
  }

  program(id: string): Promise<Program | undefined> {
    return this.store.getDocument<Program>('oadr.program', id);
  }
  event(id: string): Promise<GridEvent | undefined> {
    return this.store.getDocument<GridEvent>('oadr.event', id);
  }

  async programs(): Promise<Program[]> {
    return (await Promise.all((await this.ids('programs')).map((id) => this.program(id)))).filter(
      (p): p is Program => p !== undefined,
    );
  }

  async events(): Promise<GridEvent[]> {
    return (await Promise.all((await this.ids('events')).map((id) => this.event(id)))).filter(
      (e): e is GridEvent => e !== undefined,
    );
  }

  /** Needs from stored events whose window starts in [from, to), highest priority (lowest number) first. */
  async needs(from: number, to: number, defaults: NeedDefaults): Promise<EventNeed[]> {
    const out: { n: EventNeed; priority: number }[] = [];
    for (const e of await this.events()) {
      const n = eventToNeed(e, await this.program(e.programID), defaults);
      if (n && n.need.windowStart >= from && n.need.windowStart < to)
        out.push({ n, priority: e.priority ?? Number.MAX_SAFE_INTEGER });
    }
    return out.sort((a, b) => a.priority - b.priority || a.n.need.windowStart - b.n.need.windowStart).map((x) => x.n);
  }

  /**
   * Loads a JSON file holding a program, an event, or {"programs": [...], "events": [...]}. Events
   * may name their program by programName in `programID`; it is replaced by the stored id.
   */
  async loadFile(file: string): Promise<{ programs: Program[]; events: GridEvent[] }> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new FlexError('FLX_DATA_INVALID', `cannot read ${file}: ${(e as Error).message}`);
    }
    const body = parseJsonText(text, file) as Record<string, unknown>;
    const list = (k: string): unknown[] => (Array.isArray(body[k]) ? (body[k] as unknown[]) : []);
    const programsIn = 'programName' in body ? [body] : list('programs');
    const eventsIn = 'intervals' in body ? [body] : list('events');
    if (programsIn.length + eventsIn.length === 0)
      throw new FlexError(
        'FLX_EVENT_INVALID',
        `${file}: holds no program (programName) or event (intervals); write one object, or {"programs": [...], "events": [...]}`,
      );
    // Check everything before storing anything: a bad file leaves no partial set of objects behind.
    const newNames = new Set(programsIn.map((p, i) => validateProgram(p, `${file} programs[${i}]`).programName));
    const known = new Set([...(await this.programs()).flatMap((p) => [p.id as string, p.programName]), ...newNames]);
    eventsIn.forEach((e, i) => {
      const ev = validateEvent(e, `${file} events[${i}]`);
      if (!known.has(ev.programID))
        throw new FlexError(
          'FLX_EVENT_NOT_FOUND',
          `${file} events[${i}]: programID "${ev.programID}" is neither a program here nor one in the file`,
          { path: 'programID' },
        );
    });
    const programs: Program[] = [];
    for (const [i, p] of programsIn.entries()) programs.push(await this.addProgram(p, `${file} programs[${i}]`));
    const byName = new Map((await this.programs()).map((p) => [p.programName, p.id as string]));
    const events: GridEvent[] = [];
    for (const [i, e] of eventsIn.entries()) {
      const ev = e as Record<string, unknown>;
      const programID =
        typeof ev.programID === 'string' && byName.has(ev.programID) ? byName.get(ev.programID) : ev.programID;
      events.push(await this.addEvent({ ...ev, programID }, `${file} events[${i}]`));
    }
    return { programs, events };
  }
}
