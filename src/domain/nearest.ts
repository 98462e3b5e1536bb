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

/**
 * Whether `typed` is `name` with one slip: a letter wrong, missing, added, or two neighbours swapped
 * ("prot" for "port"). Stricter than nearestName, for guessing which field present was meant by one
 * that is missing, where a real field two edits away ("host" from "port") must not be named.
 */
export const oneSlipFrom = (typed: string, name: string): boolean => {
  if (typed === name || Math.abs(typed.length - name.length) > 1) return false;
  let i = 0;
  while (i < typed.length && i < name.length && typed[i] === name[i]) i++;
  const rest = (a: number, b: number) => typed.slice(a) === name.slice(b);
  if (typed.length === name.length)
    return rest(i + 1, i + 1) || (typed[i] === name[i + 1] && typed[i + 1] === name[i] && rest(i + 2, i + 2));
  return typed.length > name.length ? rest(i + 1, i) : rest(i, i + 1);
};
