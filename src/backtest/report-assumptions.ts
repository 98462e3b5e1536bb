// The assumptions and what is not done, as results.json (`assumptions`, `notDone`) and report.html
// state them: fixed text, with the lines that depend on the run's options (caps, moves, the oracle's
// arrivals) chosen here so that both outputs say the same.
import type { BacktestOptions } from './run.ts';

export const ASSUMPTIONS = [
  'Carbon forecasts: NESO national stored forecast counts as issued at its period start; later periods get the vintage issued at the decision: stored value + seeded noise, lead-scaled to a day ahead, calibrated on 2023 (MAE 9.86 gCO2/kWh, lag-1 r 0.735). It is centred on the later stored value (no archive of NESO vintages ships).',
  "Price forecast (flexlon, gsf-best-window has none): the mean MID of the last 48 published half hours, plus the clock half hour's mean offset from its day's mean on the last 28 whole published local days of the same kind within 70 days (at most 28 weekdays and 20 weekend days, fewer in the data's first weeks: a run from 2022-11-25 starts with none and forecasts the last outturn until a whole day is published), plus £0.25 × (1 − 0.6 e^(−lead / 4 h)) per MWh (£0.10 for the next half hour, £0.25 a day ahead) for each gCO2/kWh that its carbon forecast stands above the same level and shape of the stored carbon forecasts, plus the day's level (that forecast's error on the last published half hour, × e^(−lead / 6 h)); from outturns published (period ended) by the decision time only. The shipped data starts on 2022-11-25, so a run from 1 January 2023 has five weeks of history.",
  'Settlement: energy at the outturn Elexon MID (APXMIDP), gaps carried forward; carbon location-based at NESO national average intensity (actual; stored forecast where the actual is missing).',
  'Every site is priced and counted on the GB national series (the shipped regional data covers only winter 2023/24).',
  "Grid import = (training pool idle + running jobs + inference pool) IT power × PUE (1.3, or the fleet file's). Strategies decide at each period start; eligible jobs start then or the moment GPUs come free, and run at full power; a must-start job (no slack beyond its period: --workload alibaba's latency-sensitive pods) starts at the first period start after it arrives whatever the strategy decided, pre-empting running deferrable jobs where it does not fit (one that frees enough where there is one, else as few as it can, those with the most slack left first; a pre-empted job waits again with the work it had done: no work is lost, an assumption). Jobs submitted inside a period are seen at the next period start by every strategy.",
  "Busy fleet: each day's jobs are drawn until they ask for 85 % of the pool's GPU-hours (offered load 86.7 % over 2023), which the site's strict-FIFO scheduler keeps up with; the demo's 95 % (96.7 % offered) is above what strict FIFO runs (92.4 %) and grows a backlog all year. Every site's scheduler is strict FIFO but run-now's, which backfills; flexlon and the oracle also start jobs early into GPUs left free (below).",
  "flexlon and the oracle: the site starts the jobs the plan starts in the current period, then, into GPUs still free, jobs it starts in the next period where the current slot is no dearer than the run's last one or the job is planned late. The oracle's site also backfills where its offered load over the last week is at least 60 %: any waiting job may start into GPUs still free (its plans, which hold every job of the next 24–48 h, left GPUs idle while jobs waited).",
  "flexlon prices room later in the horizon on a contended site (capacity value): each hour a kWh is deferred costs the --capacity-value share of the lateness price per kWh, scaled by the site's offered load over the last week (0 up to 60 %, the full share from 85 %, rising as the square between). The oracle, which plans the arrivals themselves, does not. Each site is planned on its own; flexlon plans afresh every --full-plan-every periods and the oracle daily (every 6 hours at a site whose offered load is under 60 %), carried in between.",
  'The planner objective is £ at its price + carbon × the carbon price + lateness at £0.25 per GPU-hour (the planner default); the captured share compares £ + carbon valued at the same carbon price, per GPU-hour of work done.',
  'Two drain days with no new arrivals follow the last day, so every strategy does the same work; totals include them.',
  "A site battery (the cdf site, or a fleet file's) holds its charge under fifo, run-now and gsf-best-window. flexlon and the oracle plan it every period from its stored energy at their price (energy + carbon, without the capacity value), with their job plan held: it may discharge only into the jobs' own import (never exporting), and must end each 48 h plan at least as full as it began. In a product window it can answer in part, the jobs see only the rest of the window's pay and it is planned, and its commitment made, as if every GPU were busy there. Its wear (£ per MWh discharged) counts as a cost beside the bill.",
];

/** The caps assumption, stated where the run capped (--caps on, the default). */
export const CAPS_ASSUMPTION =
  "GPU power caps (--caps, on by default): at a site whose offered load over the last week is under 60 % (after a day of it seen), flexlon and the oracle cap a running job's GPUs at half of TDP for a period where that pays at their prices (the floor's draw now against the work it leaves to the end of the run), the job still finishes before the period holding its deadline, and their plan has room for the longer run; the plan itself sees every job whole. There, a waiting job the plan runs later in the horizon also starts now (into GPUs still free, capped from its second period where that pays) where that run (at full power for its first period and its last, at its lowest cap between) costs less at their prices than the plan's later run, still finishes before the period holding its deadline and fits the plan's room. A capped job draws and progresses as Emerald AI's A100 sweep measured (at half of TDP, 70 % of the speed for 54 % of the GPU's uncapped draw); the node overhead a busy GPU holds is drawn whatever the cap. fifo, run-now and gsf-best-window never cap. The proven bound allows a job its least energy per unit of work under any cap where its site reads as uncontended before its deadline.";

/** The moves assumption, stated where the run moved jobs (--moves on). */
export const MOVES_ASSUMPTION =
  "Site moves (--moves on): each period flexlon and the oracle move a waiting job that their plan for its site finishes after its deadline (not one it starts now or next period, nor one submitted since that plan) to another site of the same node kind whose last plan has room for it at full power from the next period to its end before its deadline period, where £0.25 per GPU-hour of the lateness it avoids is more than the move costs: £1 + £0.10 per GPU (the live market's default), counted in the strategy's £. A job moves once, joins the new site's queue in submission order and waits for that site's next plan. fifo, run-now and gsf-best-window never move a job. The proven bound plans the sites of one node kind together, each job free to run at any of them, without the moves' cost.";

const LEVERS_NOT_USED =
  "Levers not used by flexlon here: moving jobs between sites (--moves off, the default; the profiles allow one site per job). GPU power caps (--caps on, the default) are used only at sites that are not contended (offered load under 60 %), by rules on the plan, on running jobs and on waiting jobs started now because a capped run costs less than the plan's later one (the planner does not choose the caps); a site battery, where the fleet has one, is used (planned apart from the jobs, with the pay of announced product windows); its planned discharge counts in a commitment.";
const LEVERS_BY_RULE =
  "Site moves (--moves on) and GPU power caps (--caps on) are rules on the plans, not the planner's choice: a job moves only once its own site's plan makes it late, and only into room the other site's plan leaves; caps are used only at sites that are not contended (offered load under 60 %), on running jobs and on waiting jobs started now because a capped run costs less than the plan's later one. A site battery, where the fleet has one, is used (planned apart from the jobs, with the pay of announced product windows); its planned discharge counts in a commitment.";

export const NOT_DONE = [
  'Flexibility products: DFS test events are left out (no dated list was found) and DSO peak and P415 are called by a stated rule, not a call history; the planner prices a whole window, not only the accepted volume (the jobs of a site see only the share of the pay its battery cannot answer), so the lateness it buys can cost more than the products pay; compare the objective with a run without them.',
  LEVERS_NOT_USED,
  "Recalibration corrects the commitment (the import the plan expects) only; the planner's power model is not changed, since the simulated site draws what the model says (a capped job draws less than the full power the plan gives it, which recalibration sees as the site drawing less).",
];

const ORACLE_NO_ARRIVALS =
  'The oracle here (--oracle-arrivals none) foresees the outturn price and carbon but not the arrivals: it plans the jobs submitted so far with the rules flexlon plans by (a fresh plan as often, room kept for must-start arrivals, the capacity value, no backfill at its site). Its foresight of the next 48 h of arrivals made this planner\'s plans worse (docs/backtest.md, "The oracle without arrivals"), so without it the oracle can be the better plan.';

export const assumptionsOf = (o: BacktestOptions): string[] => [
  ...ASSUMPTIONS,
  ...((o.caps ?? true) ? [CAPS_ASSUMPTION] : []),
  ...(o.moves ? [MOVES_ASSUMPTION] : []),
  ...(o.oracleArrivals === 'none' ? [ORACLE_NO_ARRIVALS] : []),
];

/** What is not done: with moves on, the levers' line says how they are used instead. */
export const notDoneOf = (o: BacktestOptions): string[] =>
  o.moves ? NOT_DONE.map((x) => (x === LEVERS_NOT_USED ? LEVERS_BY_RULE : x)) : NOT_DONE;
