// Numbers as decimal strings (Beckn DecimalValue): no exponent notation, trailing zeros dropped.
// The same rule as beckn/wire.ts `decimal`, here so the pure core (settlement's codec) can write them.

/** A number as a DecimalValue string (no exponent notation, at most `decimals` places). */
export const decimal = (n: number, decimals = 3): string => {
  if (!Number.isFinite(n)) throw new Error(`cannot send ${n} as a decimal`);
  const s = n
    .toFixed(decimals)
    .replace(/(\.\d*?)0+$/, '$1')
    .replace(/\.$/, '');
  return s === '-0' ? '0' : s;
};

/**
 * Parts of a £ total (an offer's opportunity cost) in whole pence that add up to the total to the
 * penny: each part rounded on its own could miss by a penny ("energy -£1.50, lateness £0.00, GPU
 * caps £4.77" beside "opportunity cost £3.26"), so the pence the rounding lost or gained go to the
 * largest part. Parts that were themselves rounded may differ from the total by half a penny each;
 * parts further from it than that are not a breakdown of it and come back as they are.
 */
export const penniesAddingUp = <T extends Readonly<Record<string, number>>>(parts: T, totalGbp: number): T => {
  const p = (x: number) => Math.sign(x) * Math.round(Math.abs(x) * 100);
  const keys = Object.keys(parts) as (keyof T & string)[];
  const sum = keys.reduce((a, k) => a + (parts[k] as number), 0);
  if (keys.length === 0 || Math.abs(sum - totalGbp) > (keys.length + 1) * 0.005 + 1e-9) return parts;
  const out: Record<string, number> = Object.fromEntries(keys.map((k) => [k, p(parts[k] as number)]));
  const largest = keys.reduce((a, k) => (Math.abs(parts[k] as number) > Math.abs(parts[a] as number) ? k : a));
  out[largest] = (out[largest] as number) + p(totalGbp) - keys.reduce((a, k) => a + (out[k] as number), 0);
  return Object.fromEntries(keys.map((k) => [k, (out[k] as number) / 100])) as T;
};
