// The typed, validated configuration of each role, as the composers take it. `flexlon run ROLE
// --config FILE` parses a JSON file into one of these (src/run/), the demo builds them in code
// (src/compose/market.ts), and the test helpers do the same: one shape, whatever the source.
// Field meanings are in docs/operator-guide.md ("Running each participant as its own process").
import type { SimBatteryConfig } from '../adapters/scheduler-sim/battery.ts';
import type { NeedPolicy } from '../agents/grid/need-detection.ts';
import type { PricingPolicy } from '../agents/flex/pricing.ts';
import type { RateLimit } from '../beckn/rate-limit.ts';
import type { MoveCost } from '../domain/compute.ts';
import type { CancellationPolicy } from '../domain/order.ts';
import type { LogLevel } from '../log.ts';
import type { PlannerWork } from '../optimise/planner.ts';
import type { SiteProfile } from '../sim/site-profile.ts';
import type { DashboardConfig } from '../web/mount.ts';

/** Where a role keeps its state: a SQLite file, or a schema in a PostgreSQL database. */
export type StoreConfig =
  | { readonly kind: 'sqlite'; readonly file: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema: string; readonly passwordFile?: string };

export interface ListenConfig {
  readonly host: string;
  /** 0: any free port (the URL is known once listening). */
  readonly port: number;
  /** The URL others reach this role at (default http://host:port). */
  readonly publicUrl: string;
}

export interface KeysConfig {
  readonly dir: string;
  /** Create a key on first start when there is none. */
  readonly generate: boolean;
}

/** Live (the wall clock is market time) or a replayed day shared by every process given the same values. */
export type ClockConfig =
  | { readonly kind: 'system' }
  | { readonly kind: 'replay'; readonly marketStart: number; readonly wallStart?: number; readonly speed: number };

export type SignalsConfig =
  | { readonly kind: 'shipped' }
  | {
      readonly kind: 'csv';
      readonly carbon: readonly string[];
      readonly price: readonly string[];
      readonly regional?: readonly string[];
    };

export interface RegistryRef {
  readonly url: string;
  /** Subscribe this role's key and URL at start. */
  readonly subscribe: boolean;
  /**
   * How long (s) a registry answer is used without asking again (REGISTRY_CACHE_SECONDS by default):
   * a revoked key is refused at the latest this long after the revocation.
   */
  readonly cacheSeconds?: number;
}

/** How long a role's registry client uses an answer (RegistryRef.cacheSeconds). */
export const REGISTRY_CACHE_SECONDS = 30;
/** The registry client's cache, in ms, for a role's registry reference. */
export const registryCacheMs = (r: Pick<RegistryRef, 'cacheSeconds'>): number =>
  (r.cacheSeconds ?? REGISTRY_CACHE_SECONDS) * 1000;

/**
 * A peer trusted without the registry (the operator's own agents and orchestrator): its key file
 * (public fields only are read, when first needed) or its key inline.
 */
export type PeerKeyConfig = { readonly subscriberId: string; readonly url: string } & (
  { readonly keyFile: string } | { readonly uniqueKeyId: string; readonly publicKeyBase64: string }
);

/**
 * How inbound Beckn claims and audit rows are committed: one store transaction per message, or
 * grouped (one fsync per batch) on a SQLite file (src/adapters/store-sqlite/journal.ts).
 */
export type JournalKind = 'store' | 'sqlite-group-commit';

interface RoleBase {
  readonly listen: ListenConfig;
  readonly store: StoreConfig;
  readonly logLevel: LogLevel;
}

export type RegistryConfig = RoleBase;

/** Beckn receivers (gateway, bpp, bap): ed25519 checks on this many worker threads; 0 or absent: the event loop. */
interface Receiver {
  readonly verifyThreads?: number;
}

export interface GatewayConfig extends RoleBase, Receiver {
  readonly id: string;
  readonly keys: KeysConfig;
  readonly registry: RegistryRef;
  readonly journal?: JournalKind;
  /**
   * Requests a second per verified subscriber at `/search` and `/on_search` (src/beckn/rate-limit.ts);
   * `false` or absent: none. Each search a BAP sends is fanned out to every BPP of the domain, so one
   * BAP over its rate would multiply its load on all of them.
   */
  readonly rateLimit?: RateLimit | false;
}

export interface PlannerConfig {
  readonly kind: 'highs' | 'greedy';
  readonly timeLimitSeconds: number;
  readonly milpTimeLimitSeconds?: number;
  /**
   * Bound every stage by counted work instead of wall time, so the same inputs give the same plan
   * (src/optimise/work.ts); the time limits are then unused. The demo sets it when given a seed.
   */
  readonly work?: PlannerWork;
}

export interface BppSiteConfig {
  readonly id: string;
  readonly region: string;
  readonly agentUrl: string;
  readonly agent: PeerKeyConfig;
}

export interface BppConfig extends RoleBase, Receiver {
  readonly id: string;
  readonly name: string;
  readonly keys: KeysConfig;
  readonly registry: RegistryRef;
  readonly clock: ClockConfig;
  readonly signals: SignalsConfig;
  readonly planner: PlannerConfig;
  readonly sites: readonly BppSiteConfig[];
  readonly slotMinutes: number;
  readonly horizonSlots: number;
  readonly pricing: PricingPolicy;
  readonly cancellation?: CancellationPolicy;
  readonly quoteTtlSeconds: number;
  /** kg over each plan's horizon, `fifo`: no more than the same queues on FIFO, or `fifo-intensity`: no more per kWh; none when absent. */
  readonly carbonCap?: number | 'fifo' | 'fifo-intensity' | 'none';
  /** What moving a job between the BPP's sites costs; DEFAULT_MOVE_COST when absent. */
  readonly moveCost?: MoveCost;
  /**
   * The operational plan weighs each contended site's capacity value at this share of an hour of
   * lateness per hour a kWh is deferred (src/optimise/capacity-value.ts); absent or 0: none.
   */
  readonly capacityValueShare?: number;
  /** Answer every site's report of a slot with one plan, waiting at most this long for the others (ms; report-batch.ts). */
  readonly gatherReportsMs?: number;
  /** Re-plan each slot from the last rolling plan, a fresh plan every 2 h and when commitments change. */
  readonly incrementalReplans?: boolean;
  readonly supportEmail: string;
  /** The settlement baseline on_init names; the agents compute it. */
  readonly baseline: 'fifo' | 'bl01';
  readonly outboxEveryMs: number;
  readonly journal?: JournalKind;
  /** The operator dashboard's settings (docs/dashboard.md); it is served read-only without a token file. */
  readonly dashboard?: DashboardConfig;
  /**
   * Requests a second per verified subscriber at the Beckn endpoints (src/beckn/rate-limit.ts);
   * `false`: none. Absent: DEFAULT_RATE_LIMIT (2,000 a second, bursts of 4,000).
   */
  readonly rateLimit?: RateLimit | false;
  /**
   * The Beckn version the BPP registers itself with (issue 18, docs/beckn-2.md): `1.1.1` (the record
   * says "1.1.1"; absent, it carries no `beckn_version`, read as 1.1.1) or `2.0`: it says "2.0.0" and its
   * subscriber_url is publicUrl + /v2, so buyers send it 2.0 and the 1.1.1 gateway leaves it out.
   * Either way the BPP answers both versions.
   */
  readonly becknVersion?: '1.1.1' | '2.0';
}

export type SchedulerConfig =
  | {
      readonly kind: 'sim';
      /** How busy the simulated site is and what its nodes draw (src/sim/site-profile.ts). */
      readonly profile: SiteProfile;
      readonly seed: number;
      /** Deferrable jobs in the day; absent: the profile's own (36 half-idle; sized by load busy). */
      readonly jobs?: number;
      readonly trainingNodes: number;
      /** The settlement baseline the agent answers with: the FIFO twin, or BL01 over simulated history. */
      readonly baseline: 'fifo' | 'bl01';
      /** A battery behind the site's meter (docs/batteries.md); its FIFO twin has none. */
      readonly battery?: SimBatteryConfig;
    }
  | { readonly kind: 'slurm'; readonly slurm: Record<string, unknown> }
  /** A scheduler the composition hands over (AgentParts.scheduler): a test's Kubernetes fake, say. */
  | { readonly kind: 'given' };

interface MeterCommon {
  /** The site's GPU nodes (host names), each metered; a node that cannot be read leaves its periods unknown. */
  readonly nodes: readonly string[];
  /** Wall-clock seconds between polls. */
  readonly intervalSeconds: number;
  /** How long one read (a node's nvidia-smi, one exporter fetch) may take. */
  readonly timeoutSeconds: number;
  /** kW each node draws besides its GPUs (CPUs, memory, fans, network); added before the PUE. */
  readonly nonGpuKwPerNode: number;
  /** Facility kW per IT kW; the site's pue when absent. */
  readonly pue?: number;
}

/**
 * A real site's GPU meter (src/adapters/meter-gpu, docs/meters.md): site import per settlement period
 * = (Σ GPU power + nodes × nonGpuKwPerNode) × PUE, from nvidia-smi on every node (`command`, with
 * `{node}` for the node's name) or from DCGM exporters (`url`, with `{node}` for one per node).
 */
export type MeterConfig =
  | (MeterCommon & { readonly kind: 'nvidia-smi'; readonly command: readonly string[] })
  | (MeterCommon & { readonly kind: 'dcgm'; readonly url: string; readonly hostLabel: string });

export interface AgentConfig extends RoleBase {
  readonly id: string;
  readonly keys: KeysConfig;
  readonly clock: ClockConfig;
  readonly slotMinutes: number;
  readonly horizonSlots: number;
  readonly site: {
    readonly id: string;
    readonly region: string;
    readonly gridImportLimitKw: number;
    readonly pue: number;
  };
  readonly orchestrator: PeerKeyConfig;
  readonly scheduler: SchedulerConfig;
  readonly pollSeconds: number;
  /** A real (non-simulated) site's GPU meter; without one a Slurm site's readings are NaN. */
  readonly meter?: MeterConfig;
}

export interface BapConfig extends RoleBase, Receiver {
  readonly id: string;
  readonly keys: KeysConfig;
  readonly registry: RegistryRef;
  readonly clock: ClockConfig;
  readonly signals: SignalsConfig;
  readonly region: string;
  readonly slotMinutes: number;
  readonly policy: NeedPolicy;
  /** How long to collect on_search answers (wall ms). */
  readonly collectMs: number;
  readonly callbackTimeoutMs: number;
  /** OpenADR-style event intake (POST /openadr/programs, /openadr/events) with this bearer token file. */
  readonly openadr?: { readonly tokenFile: string };
  /** The operator dashboard's settings (docs/dashboard.md); it is served read-only without a token file. */
  readonly dashboard?: DashboardConfig;
  readonly journal?: JournalKind;
}

export type RoleName = 'registry' | 'gateway' | 'bpp' | 'agent' | 'bap';
