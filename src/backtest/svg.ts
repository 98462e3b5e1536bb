// Plain SVG line charts for the backtest report: no script, no external fonts or files, so the
// report opens offline and the same SVG files go into the README and docs.
export interface Series {
  readonly name: string;
  readonly values: readonly number[];
  /** Its line's colour; absent: the next of the palette by position. */
  readonly colour?: string;
}

export interface Chart {
  readonly title: string;
  readonly yLabel: string;
  /** Labels under the x axis, at most ~8 shown. */
  readonly xLabels: readonly string[];
  readonly series: readonly Series[];
}

export const COLOURS = ['#1b6ca8', '#d1495b', '#2a9d8f', '#e9a03b', '#6a4c93', '#555555'];
const W = 860;
const H = 260;
const PAD = { left: 64, right: 150, top: 30, bottom: 36 };

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const niceNumber = (x: number): string =>
  Math.abs(x) >= 1000 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2);

/** One chart as an SVG group of W × H at the given vertical offset. */
const group = (c: Chart, dy: number): string => {
  const all = c.series.flatMap((s) => s.values.filter(Number.isFinite));
  let lo = Math.min(0, ...all);
  let hi = Math.max(...all, lo + 1e-9);
  if (!(hi > lo)) [lo, hi] = [0, 1];
  const n = Math.max(1, ...c.series.map((s) => s.values.length)) - 1 || 1;
  const x = (i: number): number => PAD.left + (i / n) * (W - PAD.left - PAD.right);
  const y = (v: number): number => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const parts: string[] = [`<g transform="translate(0,${dy})">`];
  parts.push(`<text x="${PAD.left}" y="18" font-size="14" font-weight="bold">${esc(c.title)}</text>`);
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end">${niceNumber(v)}</text>`,
    );
  }
  parts.push(
    `<text x="14" y="${(H / 2).toFixed(0)}" font-size="11" transform="rotate(-90 14 ${(H / 2).toFixed(0)})" text-anchor="middle">${esc(c.yLabel)}</text>`,
  );
  // Zero drawn where the values cross it (a saving below it is a loss).
  if (lo < 0 && hi > 0)
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="#333"/>`,
    );
  const step = Math.max(1, Math.ceil(c.xLabels.length / 8));
  c.xLabels.forEach((l, i) => {
    if (i % step === 0)
      parts.push(
        `<text x="${x(i).toFixed(1)}" y="${H - PAD.bottom + 16}" font-size="10" text-anchor="middle">${esc(l)}</text>`,
      );
  });
  c.series.forEach((s, k) => {
    const colour = s.colour ?? (COLOURS[k % COLOURS.length] as string);
    const pts = s.values
      .map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(1)},${y(v).toFixed(1)}` : ''))
      .filter((p) => p)
      .join(' ');
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${pts}"/>`);
    const ly = PAD.top + 14 * k + 6;
    parts.push(
      `<line x1="${W - PAD.right + 10}" x2="${W - PAD.right + 28}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`,
      `<text x="${W - PAD.right + 32}" y="${ly + 4}" font-size="11">${esc(s.name)}</text>`,
    );
  });
  parts.push('</g>');
  return parts.join('');
};

/** Charts stacked vertically in one standalone SVG document. */
export const svgOf = (charts: readonly Chart[]): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H * charts.length}" viewBox="0 0 ${W} ${H * charts.length}" font-family="sans-serif">` +
  `<rect width="100%" height="100%" fill="white"/>` +
  charts.map((c, i) => group(c, i * H)).join('') +
  '</svg>';

export interface BarChart {
  readonly title: string;
  readonly yLabel: string;
  /** One group of bars per label (a strategy). */
  readonly groups: readonly string[];
  /** One bar per series in each group (a product); values may be negative. */
  readonly series: readonly Series[];
}

/** Grouped bars in one standalone SVG document, zero line drawn, each bar labelled with its value. */
export const barsSvgOf = (c: BarChart): string => {
  const all = c.series.flatMap((s) => s.values.filter(Number.isFinite));
  const lo = Math.min(0, ...all);
  let hi = Math.max(0, ...all);
  if (!(hi > lo)) hi = lo + 1;
  const y = (v: number): number => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const plotW = W - PAD.left - PAD.right;
  const groupW = plotW / Math.max(1, c.groups.length);
  const barW = (groupW * 0.8) / Math.max(1, c.series.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${PAD.left}" y="18" font-size="14" font-weight="bold">${esc(c.title)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end">${niceNumber(v)}</text>`,
    );
  }
  parts.push(
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="#333"/>`,
    `<text x="14" y="${(H / 2).toFixed(0)}" font-size="11" transform="rotate(-90 14 ${(H / 2).toFixed(0)})" text-anchor="middle">${esc(c.yLabel)}</text>`,
  );
  c.groups.forEach((g, gi) => {
    const x0 = PAD.left + gi * groupW + groupW * 0.1;
    parts.push(
      `<text x="${(PAD.left + (gi + 0.5) * groupW).toFixed(1)}" y="${H - PAD.bottom + 16}" font-size="11" text-anchor="middle">${esc(g)}</text>`,
    );
    c.series.forEach((s, si) => {
      const v = s.values[gi] ?? 0;
      if (!Number.isFinite(v)) return;
      const top = Math.min(y(v), y(0));
      const h = Math.abs(y(v) - y(0));
      const x = x0 + si * barW;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barW * 0.9).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLOURS[si % COLOURS.length] as string}"/>`,
      );
      if (v !== 0)
        parts.push(
          `<text x="${(x + barW * 0.45).toFixed(1)}" y="${(v >= 0 ? top - 3 : top + h + 11).toFixed(1)}" font-size="9" text-anchor="middle">${niceNumber(v)}</text>`,
        );
    });
  });
  c.series.forEach((s, k) => {
    const colour = COLOURS[k % COLOURS.length] as string;
    const ly = PAD.top + 14 * k + 6;
    parts.push(
      `<rect x="${W - PAD.right + 10}" y="${ly - 5}" width="18" height="10" fill="${colour}"/>`,
      `<text x="${W - PAD.right + 32}" y="${ly + 4}" font-size="11">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
};
