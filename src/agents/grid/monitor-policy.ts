// The buyer's delivery-monitoring policy, apart from the monitor itself (monitor.ts) so that the
// need policy (need-detection.ts) can name it without an import cycle.
export interface MonitorPolicy {
  /** Delivered so far may fall this share below committed so far before it is a shortfall. */
  readonly tolerance: number;
  /** On a shortfall, buy the missing kW for the rest of the window from another provider. */
  readonly topUp: boolean;
}

export const DEFAULT_MONITOR: MonitorPolicy = { tolerance: 0.05, topUp: false };
