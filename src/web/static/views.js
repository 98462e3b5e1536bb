/* global document, location */
// The dashboard's views. Each fetches its JSON from /dashboard/api/… and draws only what it got:
// no number here is computed in the browser except formatting (fixed decimals, units).
import { COLOURS, timeChart } from './charts.js';

import { cell, fmt, h, kpi, table } from './dom.js';
import { backtests, schedule, settlement } from './more-views.js';

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
      kpi('energyTodayKwh', 'metered import today', k.energyTodayKwh, 1, 'kWh'),
      kpi('gbpPerGpuHour', '£ per GPU-hour', k.gbpPerGpuHour, 3, gpuHours(k)),
      kpi('gCo2PerGpuHour', 'gCO2 per GPU-hour', k.gCo2PerGpuHour, 0, gpuHours(k)),
      kpi(
        'revenueGbp',
        'flexibility revenue',
        k.revenueGbp,
        2,
        `£, ${k.orders} order${k.orders === 1 ? '' : 's'}: £${fmt(k.revenueSettledGbp, 2)} paid on ${k.ordersSettled} settled${k.ordersSettled < k.orders ? ', the rest at the agreed price' : ''}`,
      ),
      kpi(
        'sloAttainmentPercent',
        'SLO attainment today',
        k.sloAttainmentPercent,
        1,
        k.sloJobs === 0
          ? 'no job finished or past its deadline yet today'
          : `%, ${k.sloJobs - k.sloMissed} of ${k.sloJobs} jobs by their deadline`,
      ),
      kpi('lateJobs', 'late jobs (latest plan)', k.lateJobs, 0, `jobs; ${fmt(k.overdueJobs, 0)} overdue now`),
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

const gpuHours = (k) =>
  k.gpuHours === null
    ? 'no whole period metered and followed yet'
    : `${fmt(k.gpuHours, 1)} GPU-hours in ${k.gpuHourSlots} periods`;

const $now = (now) => {
  document.getElementById('now').textContent = `${now.utc} UTC · ${now.sp} · ${now.local}`;
};

/** (2) Flexibility events: the transactions, and one's lifecycle and delivered vs committed per period. */
const events = async (el, arg, { api, act, say, meta }) => {
  const first = await api('transactions');
  const list = first.items;
  const txRow = (t) =>
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
    );
  let next = first.next;
  const more = h('button', {
    'data-action': 'more-transactions',
    textContent: 'Older transactions',
    hidden: next === null,
    on: {
      click: async () => {
        const page = await api(`transactions?cursor=${next}`);
        el.querySelector('tbody').append(...page.items.map(txRow));
        next = page.next;
        more.hidden = next === null;
      },
    },
  });
  el.append(
    h('h2', {}, 'Beckn transactions ', h('span', { className: 'muted' }, `(${first.total} in the log)`)),
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
      list.map(txRow),
    ),
    more,
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
          { className: 'muted' },
          `read ${a.verifiedAt.utc} UTC, the whole log ${a.fullyVerifiedAt.utc} UTC (wall clock)`,
        ),
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
        ' ',
        h(
          'a',
          {
            'data-action': 'export',
            href: `/dashboard/api/audit/export${arg ? `?transaction=${encodeURIComponent(arg)}` : ''}`,
          },
          arg ? 'Export these rows (JSON lines)' : 'Export the log (JSON lines)',
        ),
      ),
    ),
  );
  if (!arg) return;
  const row = (r) =>
    h(
      'tr',
      { 'data-seq': String(r.seq) },
      cell(String(r.seq), true),
      cell(`${r.at.utc} · ${r.at.sp}`),
      cell(r.kind),
      cell(r.action),
      cell(h('code', {}, r.hash.slice(0, 16))),
    );
  let next = a.next;
  const more = h('button', {
    'data-action': 'more-rows',
    textContent: 'More rows',
    hidden: next === null,
    on: {
      click: async () => {
        const page = await api(`audit?transaction=${encodeURIComponent(arg)}&cursor=${next}`);
        el.querySelector('tbody').append(...page.rows.map(row));
        next = page.next;
        more.hidden = next === null;
      },
    },
  });
  el.append(
    h('p', { className: 'muted' }, `${a.transactionRows} rows for this transaction.`),
    table([['seq', true], ['time'], ['kind'], ['action'], ['hash']], a.rows.map(row)),
    more,
  );
};

export const VIEWS = { fleet, events, audit, schedule, settlement, backtests };
