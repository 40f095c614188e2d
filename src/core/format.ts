/** Human-readable sizes, shared by the CLI's progress output and the file server's listings. */

/** `1.5 MiB`: binary units, whole bytes below 1 KiB, one decimal above. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

const BINARY_UNITS: Record<string, number> = {
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * A byte size as curl's `--limit-rate` and our size flags read it: `512`, `10k`, `1.5M`, `2GiB`,
 * `1tb` (1024-based; decimals allowed). Undefined when the text is no size.
 */
export function parseByteSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(?:([kmgtp])(?:i?b)?|b)?$/i.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * (m[2] ? BINARY_UNITS[m[2].toLowerCase()]! : 1));
}

/**
 * The largest of `values`, or `floor` when there are none (or all are smaller). A loop, not
 * `Math.max(...values)`: spreading passes every value as an argument, and past ~125,000 of them
 * (a mailbox's LIST, a big directory) that throws "Maximum call stack size exceeded".
 */
export function maxOf(values: Iterable<number>, floor = 0): number {
  let max = floor;
  for (const v of values) if (v > max) max = v;
  return max;
}
