// Settlement baselines: the method the BPP states in on_init (settlement terms) and settles against.
// The agents compute the baseline itself (FIFO counterfactual from the site's twin, or BL01 from
// meter history, baseline-bl01.ts); this names and describes the method on the wire.

/** The settlement baseline the BPP states in on_init and settles against; the agents compute it. */
export interface BaselineMethod {
  readonly code: string;
  readonly description: string;
}

// By default the demo settles against the counterfactual: the same queue on the site's own FIFO
// scheduler (no FlexLon), per settlement period. `flexlon demo --baseline bl01` uses BL01 instead.
export const FIFO_COUNTERFACTUAL: BaselineMethod = {
  code: 'FLX-CF-FIFO-1',
  description:
    "counterfactual import of the same job queue under the site's own FIFO scheduler, per settlement period (stands in for a BL01 historical baseline); delivered = baseline − metered",
};
