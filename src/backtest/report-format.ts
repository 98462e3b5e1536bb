// How the report writes numbers (en-GB grouping, fixed decimals; a missing share as "–"): one place,
// so that the figures, the bound and the product tables round alike, and a small module of its own so
// that each part of the report can import it without importing the report.

export const fmt = (x: number, d = 2): string =>
  x.toLocaleString('en-GB', { minimumFractionDigits: d, maximumFractionDigits: d });

export const pct = (x: number | null): string => (x === null ? '–' : `${fmt(x * 100, 1)} %`);
