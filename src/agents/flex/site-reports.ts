// The latest report of every Compute-Flex agent: what the fleet is planned and dispatched from.
// Kept in the sites' configured order, so that a plan does not depend on which agent happened to
// report first (they report concurrently, and a replay must repeat), and stored as each arrives, so
// that after a restart the fleet is planned from them before any agent reports again
// (FlexOrchestrator.recover; docs/storage.md, "Recovery").
import type { FlexibilityReport } from '../../domain/compute.ts';
import type { Store } from '../../ports.ts';
import type { FlexSite } from './context.ts';

const KIND = 'agent-report';

export class SiteReports {
  /** By site, in the configured order; SiteMoves.dispatch updates it as the moves leave the queues. */
  readonly bySite = new Map<string, FlexibilityReport>();

  constructor(
    private readonly sites: readonly FlexSite[],
    private readonly store: Pick<Store, 'getDocument' | 'putDocument'>,
  ) {}

  /** Keeps a site's new report, durably. */
  async keep(report: FlexibilityReport): Promise<void> {
    this.remember(report);
    await this.store.putDocument(KIND, report.site, report);
  }

  /** After a restart: each site's last stored report, where none has come in since. */
  async restore(): Promise<void> {
    for (const s of this.sites) {
      const r = await this.store.getDocument<FlexibilityReport>(KIND, s.id);
      if (r && !this.bySite.has(s.id)) this.remember(r);
    }
  }

  private remember(report: FlexibilityReport): void {
    const fresh = !this.bySite.has(report.site);
    this.bySite.set(report.site, report);
    if (!fresh) return;
    const order = this.sites.map((s) => s.id);
    const sorted = [...this.bySite].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
    this.bySite.clear();
    for (const [site, r] of sorted) this.bySite.set(site, r);
  }
}
