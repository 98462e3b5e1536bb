// Identifier sources (the IdSource port, src/ports.ts). Production uses random UUIDs (the adapter
// passes node:crypto's randomUUID in); a seeded run uses `seededIds`, so two runs with the same
// seed name their plans, offers, orders and messages alike. Pure: no node: import, no clock.
import type { IdSource } from '../ports.ts';
import { seeded } from './random.ts';

/** `prefix-<uuid>` from a UUID generator (e.g. node:crypto's randomUUID), the default everywhere. */
export const uuidIds = (uuid: () => string): IdSource => ({
  next: (prefix) => (prefix ? `${prefix}-${uuid()}` : uuid()),
});

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0').slice(-width);

/**
 * Deterministic UUID-shaped ids (version-4 layout) from a seed: the same seed and the same sequence
 * of calls give the same ids. For repeatable runs (the demo with --seed) and tests, never for
 * identifiers that must be unguessable.
 */
export const seededIds = (seed: number): IdSource => {
  // One sequence per prefix, so that how many plans were made before an order (which can depend on
  // timing) does not change the order's id.
  const sequences = new Map<string, () => string>();
  const sequence = (prefix: string): (() => string) => {
    let h = seed >>> 0;
    for (const ch of prefix) h = Math.imul(h ^ (ch.codePointAt(0) ?? 0), 0x01000193) >>> 0;
    const rnd = seeded(h);
    const word = (): number => Math.floor(rnd() * 0x1_0000_0000);
    return () => {
      const [a, b, c, d] = [word(), word(), word(), word()];
      return [
        hex(a, 8),
        hex(b >>> 16, 4),
        `4${hex(b & 0xfff, 3)}`,
        hex(0x8000 | (c >>> 18), 4),
        `${hex(c & 0xffff, 4)}${hex(d, 8)}`,
      ].join('-');
    };
  };
  return {
    next: (prefix) => {
      let uuid = sequences.get(prefix);
      if (!uuid) sequences.set(prefix, (uuid = sequence(prefix)));
      return prefix ? `${prefix}-${uuid()}` : uuid();
    },
  };
};
