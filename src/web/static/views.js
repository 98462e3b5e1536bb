/* global document, location */
// The dashboard's views. Each fetches its JSON from /dashboard/api/… and draws only what it got:
// no number here is computed in the browser except formatting (fixed decimals, units).
import { COLOURS, timeChart } from './charts.js';

const h = (tag, attrs = {}, ...kids) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k.startsWith('data-')) el.setAttribute(k, v);
    else el[k] = v;
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) el.append(kid);
  return el;
};
const fmt = (v, dp) => (v === null || v === undefined ? '–' : Number(v).toFixed(dp));
const kpi = (key, label, value, dp, unit) =>
  h(
    'div',
    { className: 'kpi' },
    h('small', {}, label),
    h('b', { 'data-kpi': key }, fmt(value, dp)),
    h('small', {}, unit),
  );
const table = (heads, rows) =>
  h(
    'div',
    { className: 'scroll' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...heads.map(([t, num]) => h('th', { className: num ? 'num' : '' }, t)))),
      h('tbody', {}, ...rows),
    ),
  );
const cell = (v, num) => h('td', { className: num ? 'num' : '' }, v);

/** (1) Fleet now: KPIs, then per site power vs baseline vs commitment, caps, battery, price and carbon ahead. */
const fleet = async (el, _arg, { api, act, say }) => {
  const [f, paused] = await Promise.all([api('fleet'), api('paused')]);
  $now(f.now);
  const k = f.kpis;
  el.append(
    h(
      'div',
      { className: 'kpis' },
      kpi('costTodayGbp', 'energy cost today', k.costTodayGbp, 2, '£, metered × outturn price'),
      kpi('carbonTodayKg', 'carbon today', k.carbonTodayKg, 1, 'kgCO2, metered × outturn intensity'),
      kpi('gbpPerGpuHour', '£ per GPU-hour', k.gbpPerGpuHour, 3, 'not yet: needs finished jobs'),
      kpi('energyTodayKwh', 'metered import today', k.energyTodayKwh, 1, 'kWh'),
      kpi('revenueGbp', 'flexibility revenue', k.revenueGbp, 2, `£, ${k.orders} orders`),
      kpi('lateJobs', 'late jobs (latest plan)', k.lateJobs, 0, 'jobs'),
    ),
  );
  if (!f.plan) {
    el.append(h('p', { className: 'muted' }, 'No plan yet: the sites have not reported.'));
    return;
  }
  el.append(
    h(
      'p',
      { className: 'muted', 'data-plan': f.plan.id },
      `Latest plan ${f.plan.id} (${f.plan.status}), made ${f.plan.made.utc} UTC: ${f.plan.reason}.`,
    ),
  );
  const grid = h('div', { className: 'sites' });
  el.append(grid);
  const draws = [];
  for (const s of f.sites) {
    const p = paused.find((x) => x.site === s.id);
    const power = h('div', {});
    const signals = h('div', {});
    const button = h('button', {
      'data-action': `pause-${s.id}`,
      textContent: p?.paused ? 'Resume flexibility' : 'Pause flexibility',
      on: {
        click: async () => {
          try {
            await act('actions/pause-site', { site: s.id, paused: !p?.paused });
            say(`${s.id}: ${p?.paused ? 'resumed' : 'paused'} (audited)`);
          } catch (e) {
            say(e.message);
          }
        },
      },
    });
    grid.append(
      h(
        'section',
        { className: 'card', 'data-site': s.id },
        h('h2', {}, `Site ${s.id} `, h('span', { className: 'muted' }, `(${s.region})`)),
        h(
          'div',
          { className: 'facts' },
          h('span', {}, 'running jobs ', h('b', { 'data-field': 'runningJobs' }, fmt(s.runningJobs, 0))),
          h('span', {}, 'GPU caps in force ', h('b', { 'data-field': 'caps' }, fmt(s.caps.length, 0))),
          s.battery
            ? h(
                'span',
                {},
                'battery ',
                h('b', { 'data-field': 'socPercent' }, fmt(s.battery.socPercent, 1)),
                ' % (',
                fmt(s.battery.socKwh, 1),
                ' kWh)',
              )
            : h('span', { className: 'muted' }, 'no battery'),
          h('span', {}, 'import limit ', fmt(s.gridImportLimitKw, 0), ' kW'),
          h('span', {}, p?.paused ? h('b', {}, 'PAUSED ') : 'offering ', button),
        ),
        power,
        signals,
      ),
    );
    draws.push(() => {
      timeChart(power, {
        labels: f.times,
        scales: { kw: 'kW' },
        series: [
          { label: 'planned import', values: s.plannedKw, colour: COLOURS.blue, scale: 'kw' },
          { label: 'baseline', values: s.baselineKw, colour: COLOURS.black, scale: 'kw', dash: [6, 4] },
          { label: 'commitment ceiling', values: s.commitmentKw, colour: COLOURS.vermillion, scale: 'kw' },
          { label: 'metered', values: s.meteredKw, colour: COLOURS.green, scale: 'kw' },
        ],
      });
      timeChart(signals, {
        labels: f.times,
        height: 160,
        scales: { gbp: '£/MWh', co2: 'gCO2/kWh' },
        series: [
          { label: 'price (outturn, then forecast)', values: s.priceGbpPerMwh, colour: COLOURS.orange, scale: 'gbp' },
          { label: 'carbon (outturn, then forecast)', values: s.carbonGPerKwh, colour: COLOURS.purple, scale: 'co2' },
        ],
      });
    });
  }
  return () => draws.forEach((d) => d());
};

const $now = (now) => {
  document.getElementById('now').textContent = `${now.utc} UTC · ${now.sp} · ${now.local}`;
};

/** (2) Flexibility events: the transactions, and one's lifecycle and delivered vs committed per period. */
const events = async (el, arg, { api, act, say, meta }) => {
  const list = await api('transactions');
  el.append(
    h('h2', {}, 'Beckn transactions'),
    table(
      [
        ['transaction'],
        ['first logged (wall clock)'],
        ['messages', true],
        ['last action'],
        ['order'],
        ['state'],
        ['kW', true],
        ['£', true],
      ],
      list.map((t) =>
        h(
          'tr',
          {
            className: 'click',
            'data-tx': t.transactionId,
            on: { click: () => (location.hash = `#events/${encodeURIComponent(t.transactionId)}`) },
          },
          cell(t.transactionId.slice(0, 13)),
          cell(`${t.first.utc} (${t.first.sp})`),
          cell(fmt(t.messages, 0), true),
          cell(t.lastAction ?? '–'),
          cell(t.order?.id ?? 'no order'),
          cell(t.order?.state ?? '–'),
          cell(fmt(t.order?.reductionKw, 0), true),
          cell(fmt(t.order?.priceGbp, 2), true),
        ),
      ),
    ),
  );
  if (list.length === 0) el.append(h('p', { className: 'muted' }, 'No transaction yet.'));
  if (!arg) return;
  const t = await api(`transactions/${encodeURIComponent(arg)}`);
  const chart = h('div', {});
  el.append(
    h('h2', { 'data-detail': t.transactionId }, `Transaction ${t.transactionId}`),
    meta.role === 'bap'
      ? h('button', {
          'data-action': 'cancel-order',
          textContent: 'Cancel this order',
          on: {
            click: async () => {
              try {
                const r = await act('actions/cancel-order', { transactionId: t.transactionId });
                say(`order ${r.orderId}: ${r.status ?? 'no status'} (audited)`);
              } catch (e) {
                say(e.message);
              }
            },
          },
        })
      : null,
    t.order
      ? h(
          'p',
          {},
          `Order ${t.order.id}: ${t.order.state}, ${fmt(t.order.reductionKw, 0)} kW for £${fmt(t.order.priceGbp, 2)}.`,
        )
      : null,
    h(
      'ol',
      { className: 'timeline' },
      ...t.timeline.map((r) =>
        h(
          'li',
          { 'data-seq': String(r.seq) },
          h('b', {}, r.action),
          ` ${r.kind} · logged ${r.at.utc} UTC · ${r.at.sp} · ${r.at.local}`,
          r.outcome ? ` · ${r.outcome}` : '',
        ),
      ),
    ),
  );
  if (t.periods.length === 0) {
    el.append(h('p', { className: 'muted' }, 'Not metered yet.'));
    return;
  }
  el.append(
    h('h3', {}, `Delivered vs committed per settlement period (from the ${t.source} record)`),
    chart,
    table(
      [['period'], ['baseline kW', true], ['metered kW', true], ['delivered kWh', true], ['committed kWh', true]],
      t.periods.map((p) =>
        h(
          'tr',
          { 'data-period': p.at.sp },
          cell(`${p.at.sp} (${p.at.local})`),
          cell(fmt(p.baselineKw, 1), true),
          cell(fmt(p.meteredKw, 1), true),
          cell(fmt(p.deliveredKwh, 1), true),
          cell(fmt(p.committedKwh, 1), true),
        ),
      ),
    ),
  );
  return () =>
    timeChart(chart, {
      labels: t.periods.map((p) => p.at),
      scales: { kwh: 'kWh' },
      series: [
        {
          label: 'delivered',
          values: t.periods.map((p) => p.deliveredKwh),
          colour: COLOURS.green,
          scale: 'kwh',
          bars: true,
        },
        { label: 'committed', values: t.periods.map((p) => p.committedKwh), colour: COLOURS.vermillion, scale: 'kwh' },
      ],
    });
};

/** (3) Audit: chain and signed heads verified now, the newest head, rows of one transaction. */
const audit = async (el, arg, { api }) => {
  const a = await api(`audit${arg ? `?transaction=${encodeURIComponent(arg)}` : ''}`);
  const input = h('input', { type: 'search', placeholder: 'transaction id', value: arg, 'data-field': 'search' });
  el.append(
    h(
      'div',
      { className: 'card' },
      h('h2', {}, 'Audit chain'),
      h(
        'div',
        { className: 'facts' },
        h('span', {}, 'store ', h('code', {}, a.store)),
        h('span', {}, 'records ', h('b', { 'data-field': 'records' }, String(a.records))),
        h(
          'span',
          {},
          'chain ',
          h(
            'b',
            { className: `badge ${a.chain.ok ? 'ok' : 'bad'}`, 'data-field': 'chain' },
            a.chain.ok ? 'verified' : `broken at ${a.chain.seq}: ${a.chain.reason}`,
          ),
        ),
        a.heads
          ? h(
              'span',
              {},
              'signed heads ',
              h(
                'b',
                { className: `badge ${a.heads.ok ? 'ok' : 'bad'}`, 'data-field': 'heads' },
                a.heads.ok
                  ? `${a.heads.heads} verified, vouch to record ${a.heads.vouchedTo}`
                  : `fault at ${a.heads.seq}: ${a.heads.reason}`,
              ),
            )
          : null,
        a.latestHead
          ? h(
              'span',
              {},
              'newest head: record ',
              String(a.latestHead.seq),
              ` signed ${a.latestHead.signedAt.utc} UTC by ${a.latestHead.actor}`,
            )
          : null,
      ),
      h(
        'form',
        {
          on: {
            submit: (e) => {
              e.preventDefault();
              location.hash = `#audit/${encodeURIComponent(input.value.trim())}`;
            },
          },
        },
        input,
        h('button', { type: 'submit' }, 'Search'),
      ),
    ),
  );
  if (arg)
    el.append(
      table(
        [['seq', true], ['time'], ['kind'], ['action'], ['hash']],
        a.rows.map((r) =>
          h(
            'tr',
            { 'data-seq': String(r.seq) },
            cell(String(r.seq), true),
            cell(`${r.at.utc} · ${r.at.sp}`),
            cell(r.kind),
            cell(r.action),
            cell(h('code', {}, r.hash.slice(0, 16))),
          ),
        ),
      ),
    );
};

/** (4) Schedule: jobs per site as a Gantt chart over the plan's horizon, price and carbon under it. */
const schedule = async (el, _arg, { api }) => {
  const s = await api('schedule');
  if (s.times.length === 0) {
    el.append(h('p', { className: 'muted' }, 'No plan yet.'));
    return;
  }
  const from = s.times[0].t;
  const to = s.times[s.times.length - 1].t + 30 * 60_000;
  const pct = (t) => `${(100 * (Math.min(Math.max(t, from), to) - from)) / (to - from)}%`;
  const span = (a, b) => `${(100 * (Math.min(b, to) - Math.max(a, from))) / (to - from)}%`;
  el.append(
    h(
      'p',
      { className: 'muted' },
      `Jobs as each site last reported them, ${s.times[0].utc} to ${new Date(to).toISOString().slice(0, 16).replace('T', ' ')} UTC. `,
      h('span', { className: 'legend-key', style: `background:${COLOURS.green}` }),
      'running ',
      h('span', { className: 'legend-key', style: `background:${COLOURS.blue}` }),
      'waiting ',
      h('span', { className: 'legend-key', style: `background:${COLOURS.orange}` }),
      'power-capped ',
      h('span', { className: 'legend-key', style: 'background:rgba(86,180,233,.35)' }),
      'allowed window (release to deadline)',
    ),
  );
  for (const site of s.sites) {
    const g = h('div', { className: 'gantt', 'data-site': site.site });
    for (const j of site.jobs.filter((x) => x.end > from && x.start < to)) {
      const row = h('div', {
        className: 'row',
        title: `${j.name} (${j.gpus} GPUs, ${j.slo}${j.powerCapW ? `, capped at ${j.powerCapW} W/GPU` : ''})`,
      });
      row.append(
        h('div', { className: 'win', style: `left:${pct(j.releaseAt)};width:${span(j.releaseAt, j.deadlineAt)}` }),
      );
      row.append(
        h('div', {
          className: `bar ${j.powerCapW ? 'capped' : j.state === 'running' ? 'running' : ''}`,
          style: `left:${pct(j.start)};width:max(2px,${span(j.start, j.end)})`,
        }),
      );
      g.append(row);
    }
    g.append(h('div', { className: 'nowline', style: `left:${pct(s.now.t)}` }));
    el.append(
      h(
        'h3',
        { 'data-site-title': site.site },
        `Site ${site.site} `,
        h('span', { className: 'muted', 'data-field': 'jobs' }, `${site.jobs.length} jobs`),
      ),
      g,
    );
  }
  const chart = h('div', {});
  el.append(chart);
  return () =>
    timeChart(chart, {
      labels: s.times,
      height: 160,
      scales: { gbp: '£/MWh', co2: 'gCO2/kWh' },
      series: [
        { label: 'price (outturn, then forecast)', values: s.priceGbpPerMwh, colour: COLOURS.orange, scale: 'gbp' },
        { label: 'carbon (outturn, then forecast)', values: s.carbonGPerKwh, colour: COLOURS.purple, scale: 'co2' },
      ],
    });
};

/** (5) Settlement statements: each settled order's figures and its baseline vs metered import per period. */
const settlement = async (el, _arg, { api }) => {
  const list = await api('settlements');
  if (list.length === 0) {
    el.append(h('p', { className: 'muted' }, 'No order settled yet: statements appear when an order completes.'));
    return;
  }
  el.append(
    h('h2', {}, 'Settlement statements'),
    h(
      'p',
      { className: 'muted' },
      'Delivered = baseline − metered, per settlement period; positive means less imported.',
    ),
    table(
      [
        ['order'],
        ['baseline method'],
        ['delivered kWh', true],
        ['committed kWh', true],
        ['shortfall kWh', true],
        ['performance %', true],
        ['payment £', true],
      ],
      list.map((s) =>
        h(
          'tr',
          { 'data-statement': s.orderId ?? String(s.seq) },
          cell(s.orderId ?? '–'),
          cell(s.baselineMethod),
          cell(fmt(s.deliveredKwh, 1), true),
          cell(fmt(s.committedKwh, 1), true),
          cell(fmt(s.shortfallKwh, 1), true),
          cell(fmt(100 * s.performance, 1), true),
          cell(fmt(s.paymentGbp, 2), true),
        ),
      ),
    ),
  );
  const charts = list.map((s) => {
    const c = h('div', {});
    el.append(h('h3', {}, `Order ${s.orderId ?? s.seq}: baseline vs metered`), c);
    return () =>
      timeChart(c, {
        labels: s.periods.map((p) => p.at),
        scales: { kw: 'kW' },
        series: [
          {
            label: 'baseline',
            values: s.periods.map((p) => p.baselineKw),
            colour: COLOURS.black,
            scale: 'kw',
            dash: [6, 4],
          },
          { label: 'metered', values: s.periods.map((p) => p.meteredKw), colour: COLOURS.green, scale: 'kw' },
        ],
      });
  });
  return () => charts.forEach((d) => d());
};

/** (6) Backtest reports under the configured folder (each report.html is self-contained). */
const backtests = async (el, _arg, { api }) => {
  const b = await api('backtests');
  if (b.dir === null) {
    el.append(h('p', { className: 'muted' }, 'No backtest folder configured (dashboard.backtestDir).'));
    return;
  }
  el.append(
    h('h2', {}, 'Backtest reports in ', h('code', {}, b.dir)),
    b.reports.length === 0
      ? h('p', { className: 'muted' }, 'No report.html found there.')
      : table(
          [['run'], ['written (UTC)'], ['size kB', true]],
          b.reports.map((r) =>
            h(
              'tr',
              { 'data-report': r.name },
              cell(h('a', { href: `/dashboard/backtests/${r.name}/report.html`, target: '_blank' }, r.name)),
              cell(r.modified.slice(0, 16).replace('T', ' ')),
              cell(fmt(r.bytes / 1000, 1), true),
            ),
          ),
        ),
  );
};

export const VIEWS = { fleet, events, audit, schedule, settlement, backtests };
