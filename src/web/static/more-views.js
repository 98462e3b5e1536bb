// The dashboard's schedule, settlement and backtest views (see views.js for the others). Each
// fetches its JSON from /dashboard/api/… and draws only what it got.
import { COLOURS, timeChart } from './charts.js';
import { cell, fmt, h, table } from './dom.js';

/** (4) Schedule: jobs per site as the latest plan places them (a Gantt chart), price and carbon under it. */
export const schedule = async (el, _arg, { api }) => {
  const s = await api('schedule');
  if (s.times.length === 0) {
    el.append(h('p', { className: 'muted' }, 'No plan yet.'));
    return;
  }
  const from = s.times[0].t;
  const to = s.times[s.times.length - 1].t + (s.times.length > 1 ? s.times[1].t - s.times[0].t : 30 * 60_000);
  const pct = (t) => `${(100 * (Math.min(Math.max(t, from), to) - from)) / (to - from)}%`;
  const span = (a, b) => `${(100 * (Math.min(b, to) - Math.max(a, from))) / (to - from)}%`;
  const key = (colour, label) => [h('span', { className: 'legend-key', style: `background:${colour}` }), `${label} `];
  el.append(
    h(
      'p',
      { className: 'muted' },
      `Plan ${s.plan.id} (${s.plan.status}, made ${s.plan.made.utc} UTC), ${s.times[0].utc} to `,
      `${new Date(to).toISOString().slice(0, 16).replace('T', ' ')} UTC. `,
      ...key(COLOURS.green, 'running'),
      ...key(COLOURS.blue, 'started by the plan'),
      ...key(COLOURS.black, 'pinned (inflexible)'),
      ...key(COLOURS.orange, 'GPU-capped this slot'),
      ...key(
        `repeating-linear-gradient(135deg,${COLOURS.orange} 0 3px,#000 3px 5px)`,
        'GPU cap the plan sets (striped)',
      ),
      ...key('rgba(86,180,233,.35)', 'allowed window (release to deadline)'),
      ...key('rgba(213,94,0,.18)', 'commitment window'),
    ),
  );
  // Time axis of the Gantt rows: a tick every 6 h (UTC), the date at midnight.
  const axis = h('div', { className: 'gantt-axis', 'aria-hidden': 'true' });
  for (let t = Math.ceil(from / 21_600_000) * 21_600_000; t < to; t += 21_600_000) {
    const iso = new Date(t).toISOString();
    axis.append(
      h('span', { style: `left:${pct(t)}` }, iso.slice(11, 16) === '00:00' ? iso.slice(5, 10) : iso.slice(11, 16)),
    );
  }
  el.append(axis);
  for (const site of s.sites) {
    const g = h('div', { className: 'gantt', 'data-site': site.site });
    for (const c of site.commitments.filter((x) => x.end > from && x.start < to))
      g.append(
        h('div', {
          className: 'commit',
          title: `commitment: import ≤ ${c.maxImportKw.toFixed(0)} kW`,
          style: `left:${pct(c.start)};width:${span(c.start, c.end)}`,
        }),
      );
    const placed = site.jobs.filter((x) => x.start !== null && x.end > from && x.start < to);
    for (const j of placed) {
      const cap = j.planCapKw !== null ? `, plan caps it at ${j.planCapKw.toFixed(1)} of ${j.fullPowerKw} kW now` : '';
      const caps = j.planCaps.length > 0 ? `, ${j.planCaps.length} capped spans planned` : '';
      const late = j.lateSlots ? `, ${j.lateSlots} slots late` : '';
      const row = h('div', {
        className: 'row',
        title: `${j.name} (${j.gpus} GPUs, ${j.slo}, ${j.placement}${cap}${caps}${late})`,
      });
      row.append(
        h('div', { className: 'win', style: `left:${pct(j.releaseAt)};width:${span(j.releaseAt, j.deadlineAt)}` }),
      );
      const kind = j.planCapKw !== null ? 'capped' : j.placement;
      row.append(
        h('div', {
          className: `bar ${kind}${j.lateSlots ? ' late' : ''}`,
          'data-job': j.id,
          'data-start': String(j.start),
          style: `left:${pct(j.start)};width:max(2px,${span(j.start, j.end)})`,
        }),
      );
      // Each span of slots the plan runs the job below full power in, over its bar.
      for (const c of j.planCaps.filter((x) => x.end > from && x.start < to))
        row.append(
          h('div', {
            className: 'cap',
            'data-cap': j.id,
            'data-start': String(c.start),
            title: `${j.name}: GPU cap, ${c.kw.toFixed(1)} of ${j.fullPowerKw.toFixed(1)} kW`,
            style: `left:${pct(c.start)};width:max(2px,${span(c.start, c.end)})`,
          }),
        );
      g.append(row);
    }
    g.append(h('div', { className: 'nowline', style: `left:${pct(s.now.t)}` }));
    const waiting = site.jobs.filter((x) => x.placement === 'beyond-horizon').length;
    el.append(
      h(
        'h3',
        { 'data-site-title': site.site },
        `Site ${site.site} `,
        h('span', { className: 'muted', 'data-field': 'jobs' }, `${site.jobs.length} jobs`),
        h(
          'span',
          { className: 'muted' },
          `, ${placed.length} in view; ${waiting} not started within the horizon`,
          site.placedBy && site.placedBy !== s.plan.id ? ` (dispatched by plan ${site.placedBy})` : '',
        ),
      ),
      g,
    );
  }
  const power = h('div', {});
  const chart = h('div', {});
  el.append(power, chart);
  const palette = [COLOURS.blue, COLOURS.vermillion, COLOURS.green, COLOURS.purple, COLOURS.orange, COLOURS.sky];
  return () => {
    timeChart(power, {
      labels: s.times,
      height: 160,
      scales: { kw: 'kW' },
      series: s.sites.map((x, i) => ({
        label: `${x.site} planned import`,
        values: x.plannedKw,
        colour: palette[i % palette.length],
        scale: 'kw',
      })),
    });
    timeChart(chart, {
      labels: s.times,
      height: 160,
      scales: { gbp: '£/MWh', co2: 'gCO2/kWh' },
      series: [
        { label: 'price (forecast)', values: s.priceGbpPerMwh, colour: COLOURS.orange, scale: 'gbp' },
        { label: 'carbon (forecast)', values: s.carbonGPerKwh, colour: COLOURS.purple, scale: 'co2' },
      ],
    });
  };
};

/** (5) Settlement statements: each settled order's figures and its baseline vs metered import per period. */
export const settlement = async (el, _arg, { api }) => {
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
export const backtests = async (el, _arg, { api }) => {
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
