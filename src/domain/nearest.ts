// Which known name a mistyped one most likely meant (a flag, a config field).
/**
 * The name a mistyped one most likely meant, among `names`: the only one it is a prefix of, or the
 * one nearest within two edits (a tie is no answer). For "did you mean" in flag and config errors.
 */
export const nearestName = (typed: string, names: readonly string[]): string | undefined => {
  const edits = (a: string, b: string): number => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++)
        next.push(
          Math.min(
            (row[j] as number) + 1,
            (next[j - 1] as number) + 1,
            (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
          ),
        );
      row = next;
    }
    return row[b.length] as number;
  };
  const prefixed = names.filter((n) => n.startsWith(typed));
  if (prefixed.length === 1) return prefixed[0];
  const scored = names.map((n) => [n, edits(typed, n)] as const).filter(([, d]) => d <= 2);
  scored.sort((a, b) => a[1] - b[1]);
  return scored.length > 0 && (scored.length === 1 || scored[0]?.[1] !== scored[1]?.[1]) ? scored[0]?.[0] : undefined;
};
