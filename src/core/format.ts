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
