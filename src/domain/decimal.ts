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
