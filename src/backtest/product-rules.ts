// Each product's rule and assumptions in words, for results.json (`products.rules`) and the report:
// kept beside, not inside, the code that applies them (products.ts, product-settlement.ts,
// product-calendar.ts), since they are what a reader of the outputs is told. docs/backtest.md,
// "Flexibility products", states the same rules.
import { DFS_LIVE_EVENTS, type ProductName } from './product-calendar.ts';

/** What every product shares (results.json `products.rules.all`). */
export const COMMON_RULES = [
  'Announced at 14:00 UK local time the day before; flexlon and the oracle price the window from then on and commit at the notice; fifo, run-now and gsf-best-window make no offers.',
  "Commitment = mean over the window of (BL01 baseline as known at the notice − the import the plan expects), whole kW, at least 0; expected import = (idle + inference + planned jobs) × PUE + the battery's planned charge − discharge, recalibrated after each delivery on the windows already delivered; where the battery answers the jobs' share of a window, the jobs count at full load there and the commitment is not recalibrated.",
  "Settled on BL01 (10 working / 4 non-working days within 60, event days excluded, no in-day adjustment) from the strategy's own metered import; days with any product window are event days. A window without a baseline is listed as not settled.",
  'Reported beside the energy bill, not netted into £, value or the captured share.',
];

/** The rule and assumptions of each product, for results.json and the report. */
export const productRules = (products: readonly ProductName[]): Record<string, string[]> => {
  const out: Record<string, string[]> = { all: COMMON_RULES };
  if (products.includes('dfs'))
    out.dfs = [
      'DFS live events of 2022/23 and 2023/24 as dated in public reports (the shared notes and grid data hold no list): ' +
        DFS_LIVE_EVENTS.map(
          (e) => `${e.date} ${e.from}–${e.to}${e.hoursAssumed ? ' (hours assumed, not given)' : ''}`,
        ).join(', ') +
        '. Test events are not included (no dated list found).',
      'Pay-as-bid £300/MWh × min(max(delivered, 0), accepted) per period, no performance factor (settleProduct with dfsGbpPerMwh); the bid sits at the low end of the cleared range, so acceptance is assumed.',
    ];
  if (products.includes('dso-peak'))
    out['dso-peak'] = [
      "ENA Peak Reduction with docs/settlement.md's example terms: utilisation £600/MWh × min(max(delivered, 0), accepted), availability £12/MW/h × accepted MW × window hours, times the WPD/NGED performance factor max(0, 1 − 3 × max(0, shortfall − 5 %)).",
      'Called by rule (no DSO call history ships): every fourth working day counted from 2023-01-01 (backwards before it), November to March, 16:00–19:00 UK local; not on DFS days (DFS 2022/23 excluded assets in DNO services).',
    ];
  if (products.includes('p415'))
    out.p415 = [
      'P415 / VTP: value = (BL01 baseline − metered) × 0.5 h × outturn MID per active period, negative when the site used more; declared (WMAN) only when the commitment is above zero.',
      'Active by rule: every fourth working day counted from 2023-01-01 (backwards before it), offset 2 from dso-peak, in the 2 h with the highest causal price forecast at the notice; not on DFS days.',
      "Supplier compensation = deviation × the Supplier Compensation Reference Price; its methodology is not shipped, so the MID stands in. Mutualised across suppliers under P415 as approved: stated, not counted as the site's cost.",
    ];
  return out;
};
