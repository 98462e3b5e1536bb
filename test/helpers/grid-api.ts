// A loopback stand-in for the NESO Carbon Intensity and Elexon Insights APIs: real HTTP, the real
// response shapes, values from the shipped data (national, MID) and the shipped regional sample.
// Tests can queue failures (429 with Retry-After, 5xx, 400 problem JSON) and read the request log.
import { createServer, type Server } from 'node:http';
import { SHIPPED_GRID } from '../../src/config.ts';
import { CsvSignalSource } from '../../src/adapters/signals-csv/source.ts';
import { settlementPeriodOf } from '../../src/domain/settlement-day.ts';

const P = 1_800_000;
const t16 = (t: number) => new Date(t).toISOString().slice(0, 16) + 'Z';

export interface Injected {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface GridApi {
  readonly url: string;
  readonly requests: string[];
  /** Responses served before the real ones, in order. */
  readonly inject: Injected[];
  close(): Promise<void>;
}

let shipped: CsvSignalSource | undefined;
const data = (): CsvSignalSource => (shipped ??= new CsvSignalSource(SHIPPED_GRID, { vintages: false }));

const range = (from: string, to: string): number[] => {
  const out: number[] = [];
  // Like the real API, the period ending at `from` is included too.
  for (let t = Date.parse(from) - P; t < Date.parse(to); t += P) out.push(t);
  return out;
};

const national = (from: string, to: string) => ({
  data: range(from, to).flatMap((t) => {
    const r = data().history.get(18, t);
    return r
      ? [
          {
            from: t16(t),
            to: t16(t + P),
            intensity: {
              forecast: r.carbonForecast ?? null,
              actual: r.carbonActual ?? null,
              index: r.carbonIndex ?? 'moderate',
            },
          },
        ]
      : [];
  }),
});

const regional = (from: string, to: string, id: number) => ({
  data: {
    regionid: id,
    dnoregion: 'UKPN London',
    shortname: 'London',
    data: range(from, to).flatMap((t) => {
      const r = data().history.get(id, t);
      return r?.carbonForecast === undefined
        ? []
        : [
            {
              from: t16(t),
              to: t16(t + P),
              intensity: { forecast: r.carbonForecast, index: 'moderate' },
              generationmix: [
                { fuel: 'gas', perc: 40 },
                { fuel: 'wind', perc: 60 },
              ],
            },
          ];
    }),
  },
});

const mid = (from: string, to: string) => {
  const rows = [];
  for (let t = Date.parse(from); t <= Date.parse(to); t += P) {
    const r = data().history.get(18, t);
    if (r?.priceVolume === undefined) continue;
    const sp = settlementPeriodOf(t);
    rows.push({
      dataset: 'MID',
      startTime: new Date(t).toISOString().replace('.000', ''),
      dataProvider: 'APXMIDP',
      settlementDate: sp.date,
      settlementPeriod: sp.period,
      price: r.price ?? 0,
      volume: r.priceVolume,
    });
  }
  return { data: rows };
};

export const startGridApi = async (): Promise<GridApi> => {
  const requests: string[] = [];
  const inject: Injected[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${url.pathname}${url.search}`);
    const next = inject.shift();
    if (next) {
      res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
      res.end(next.body ?? '');
      return;
    }
    const send = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let m: RegExpExecArray | null;
    if ((m = /^\/intensity\/([^/]+)\/([^/]+)$/.exec(url.pathname)))
      return send(national(m[1] as string, m[2] as string));
    if ((m = /^\/regional\/intensity\/([^/]+)\/([^/]+)\/regionid\/(\d+)$/.exec(url.pathname)))
      return send(regional(m[1] as string, m[2] as string, Number(m[3])));
    if (url.pathname === '/datasets/MID') {
      const [from, to] = [url.searchParams.get('from') ?? '', url.searchParams.get('to') ?? ''];
      if (Date.parse(to) - Date.parse(from) > 7 * 86_400_000) {
        res.writeHead(400, { 'content-type': 'application/problem+json' });
        res.end(
          JSON.stringify({
            type: 'https://tools.ietf.org/html/rfc9110#section-15.5.1',
            title: 'One or more validation errors occurred.',
            status: 400,
            errors: { to: ['The date range must not exceed 7 days.'] },
          }),
        );
        return;
      }
      return send(mid(from, to));
    }
    if ((m = /^\/balancing\/settlement\/system-prices\/(\d{4}-\d{2}-\d{2})$/.exec(url.pathname))) {
      return send({
        metadata: { datasets: ['DISEBSP'] },
        data: [
          {
            settlementDate: m[1],
            settlementPeriod: 1,
            startTime: new Date(Date.parse(`${m[1]}T00:00:00Z`)).toISOString().replace('.000', ''),
            systemSellPrice: 99.5,
            systemBuyPrice: 99.5,
            netImbalanceVolume: 120,
          },
        ],
      });
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: '404', message: 'not found' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
};
