/* global addEventListener */
// Time-series charts on uPlot (served from node_modules by the role, no build step). Every chart's
// x axis is UTC; hovering names the instant in UTC, its GB settlement day and period, and UK local
// time, from the labels the API sends with the data (src/web/api.ts timeLabel). Okabe–Ito colours.
import uPlot from '/dashboard/static/uPlot.esm.js';

export const COLOURS = {
  orange: '#E69F00',
  sky: '#56B4E9',
  green: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  purple: '#CC79A7',
  black: '#000000',
};

const charts = new Set();

const widthOf = (el) => Math.max(280, el.clientWidth - 4);

/**
 * A line chart. `labels` is the API's time labels (t, utc, sp, local); `series` are
 * {label, values, colour, scale, dash, bars}; `scales` maps a scale name to its axis label (unit).
 */
export const timeChart = (el, { labels, series, scales, height = 220 }) => {
  const xs = labels.map((l) => l.t / 1000);
  const scaleNames = Object.keys(scales);
  const opts = {
    width: widthOf(el),
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    scales: { x: { time: true } },
    series: [
      {
        label: 'time',
        value: (_u, _v, _s, i) => {
          const l = i === null || i === undefined ? undefined : labels[i];
          return l ? `${l.utc} UTC · ${l.sp} · ${l.local}` : '–';
        },
      },
      ...series.map((s) => ({
        label: s.label,
        stroke: s.colour,
        width: 2,
        scale: s.scale,
        dash: s.dash,
        spanGaps: false,
        ...(s.bars ? { paths: uPlot.paths.bars({ size: [0.6, 40] }), fill: `${s.colour}99` } : {}),
        value: (_u, v) => (v === null || v === undefined ? '–' : `${Number(v).toFixed(1)} ${scales[s.scale]}`),
      })),
    ],
    axes: [
      {
        label: 'UTC',
        stroke: '#333',
        // 24-hour UTC ticks; the date at midnight.
        values: (_u, splits) =>
          splits.map((v) => {
            const iso = new Date(v * 1000).toISOString();
            return iso.slice(11, 16) === '00:00' ? iso.slice(5, 10) : iso.slice(11, 16);
          }),
      },
      ...scaleNames.map((name, i) => ({
        scale: name,
        label: scales[name],
        side: i === 0 ? 3 : 1,
        grid: { show: i === 0 },
        stroke: '#333',
        size: 60,
      })),
    ],
  };
  const data = [xs, ...series.map((s) => s.values.map((v) => (v === null || v === undefined ? null : v)))];
  // The axis titles are drawn on the canvas; the DOM keeps them too, for tests and screen readers.
  el.dataset.units = ['UTC', ...scaleNames.map((n) => scales[n])].join('|');
  el.setAttribute(
    'aria-label',
    `chart of ${series.map((s) => s.label).join(', ')}; x in UTC, y in ${Object.values(scales).join(' and ')}`,
  );
  const u = new uPlot(opts, data, el);
  charts.add({ u, el });
  return u;
};

/** Drops every chart (before a view is drawn again). */
export const clearCharts = () => {
  for (const c of charts) c.u.destroy();
  charts.clear();
};

// Charts follow the window's width (1280×800 or a phone).
addEventListener('resize', () => {
  for (const c of charts) c.u.setSize({ width: widthOf(c.el), height: c.u.height });
});
