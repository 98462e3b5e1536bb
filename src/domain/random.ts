// A small seeded PRNG (mulberry32) so generated workloads and tests are reproducible.
export type Random = () => number;

export const seeded = (seed: number): Random => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

export const uniform = (rnd: Random, lo: number, hi: number): number => lo + (hi - lo) * rnd();
export const intBetween = (rnd: Random, lo: number, hi: number): number => Math.floor(uniform(rnd, lo, hi + 1));
export const pick = <T>(rnd: Random, xs: readonly T[]): T => {
  const x = xs[Math.floor(rnd() * xs.length)];
  if (x === undefined) throw new Error('pick from an empty list');
  return x;
};
