// Shared by the Store contract suites: the fixture an adapter provides, and sample values.
import type { AuditEntry } from '../../src/audit/chain.ts';
import type { Order } from '../../src/domain/order.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbp, kw } from '../../src/domain/units.ts';
import type { Store } from '../../src/ports.ts';
import type { OutboxInput } from '../../src/store/records.ts';

export interface StoreFixture {
  readonly store: Store;
  readonly reopen: () => Promise<Store>;
  readonly cleanup: () => Promise<void>;
}

export type WithStore = (fn: (fixture: StoreFixture) => Promise<void>) => Promise<void>;

export const T0 = 1_735_689_600_000; // 2025-01-01T00:00:00Z

export const entry = (patch: Partial<AuditEntry> = {}): AuditEntry => ({
  kind: 'agent',
  at: T0,
  actor: 'flex.example',
  payload: { note: 'test' },
  ...patch,
});

export const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;

export const order = (id: string, patch: Partial<Order> = {}): Order => ({
  id,
  transactionId: `tx-${id}`,
  bapId: 'grid.example',
  bapUri: 'https://grid.example/beckn',
  offerId: 'offer-1',
  site: 'lon-1',
  windowStart: epochMs(T0),
  windowEnd: epochMs(T0 + 1_800_000),
  reductionKw: kw(250),
  priceGbp: gbp(42.5),
  state: 'searched',
  updatedAt: epochMs(T0),
  ...patch,
});

export const outboxMessage = (id: string, patch: Partial<OutboxInput> = {}): OutboxInput => ({
  id,
  destination: 'https://grid.example/beckn/on_confirm',
  action: 'on_confirm',
  transactionId: 'tx-1',
  messageId: `m-${id}`,
  body: { context: { action: 'on_confirm', message_id: `m-${id}` }, message: { order: { id: 'o-1' } } },
  createdAt: T0,
  ...patch,
});

export const hasCode =
  (code: string, ...parts: (string | RegExp)[]) =>
  (e: unknown): boolean => {
    const { code: actual, message } = e as { code?: string; message?: string };
    return (
      actual === code &&
      parts.every((p) => (typeof p === 'string' ? message?.includes(p) === true : p.test(message ?? '')))
    );
  };
