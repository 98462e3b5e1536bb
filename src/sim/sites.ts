// The simulated sites of the demo and the backtest, in their own module so that the backtest and
// the tools that only need their sizes do not load the whole market's composition.
/**
 * The simulated sites, in the order `--sites N` takes them. The first is the demo's original site;
 * the others are smaller, so a portfolio split is uneven. Sizes are illustrative placeholders.
 */
export const SIM_SITES = [
  { id: 'lon', name: 'London', trainingNodes: 32, gridImportLimitKw: 400 },
  { id: 'man', name: 'Manchester', trainingNodes: 24, gridImportLimitKw: 300 },
  { id: 'edi', name: 'Edinburgh', trainingNodes: 16, gridImportLimitKw: 200 },
  // The battery-heavy site: a 400 kWh, 200 kW lithium-ion battery behind the meter (two hours at full
  // power; 88 % round trip, typical of grid-scale LFP). Wear at £40 per MWh discharged is a
  // placeholder: about £300/kWh of capex over 6,000 cycles of 80 % depth, less what calendar ageing
  // costs anyway. Its cluster is as busy as the others, so its flexibility is mostly the battery's.
  {
    id: 'cdf',
    name: 'Cardiff',
    trainingNodes: 16,
    gridImportLimitKw: 300,
    battery: {
      capacityKwh: 400,
      maxChargeKw: 200,
      maxDischargeKw: 200,
      roundTripEfficiency: 0.88,
      minSocKwh: 40,
      maxSocKwh: 360,
      initialSocKwh: 200,
      degradationGbpPerMwh: 40,
    },
  },
] as const;
