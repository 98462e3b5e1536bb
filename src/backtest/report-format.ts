// How the report writes numbers (en-GB grouping, fixed decimals; a missing share as "–"): one place,
// so that the figures, the bound and the product tables round alike, and a small module of its own so
// that each part of the report can import it without importing the report.

export const fmt = (x: number, d = 2): string =>
  x.toLocaleString('en-GB', { minimumFractionDigits: d, maximumFractionDigits: d });

export const pct = (x: number | null): string => (x === null ? '–' : `${fmt(x * 100, 1)} %`);

/** Whole pounds, en-GB grouping. */
const pounds = (x: number): string => `£${Math.round(x).toLocaleString('en-GB')}`;

/** What the against-fifo sentence reads of a strategy's summary. */
interface Outcome {
  readonly objectiveGbp: number;
  readonly valueGbp: number;
  readonly latenessGbp: number;
}

/**
 * flexlon against fifo in words, "HIGHER" where flexlon's objective is above fifo's: the terminal
 * and report.html say the same, so a run where flexlon lost reads so in both (a new user found it
 * only on the terminal).
 */
export const againstFifo = (fl: Outcome, fifo: Outcome): string => {
  const d = fl.objectiveGbp - fifo.objectiveGbp;
  return `flexlon against fifo: objective ${pounds(Math.abs(d))} ${d <= 0 ? 'lower' : 'HIGHER'} (£ and carbon ${pounds(Math.abs(fl.valueGbp - fifo.valueGbp))} ${fl.valueGbp <= fifo.valueGbp ? 'lower' : 'higher'}, lateness ${pounds(Math.abs(fl.latenessGbp - fifo.latenessGbp))} ${fl.latenessGbp <= fifo.latenessGbp ? 'lower' : 'higher'}); the objective is £ + carbon at its price + lateness`;
};
