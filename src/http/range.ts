/**
 * Byte ranges (RFC 9110 §14): the `Range` request header as a server reads it and the
 * `Content-Range` response header as a client checks it. Pure functions, shared by the file server
 * and the downloader, so both sides agree on one grammar. Our own because the few npm parsers
 * (range-parser) differ from the RFC on empty list elements and coalescing, and we need the
 * client half too.
 *
 * Ranges here use HTTP's inclusive `end` (`bytes=0-99` is `{start: 0, end: 99}`).
 */

export interface ByteRange {
  start: number;
  /** inclusive, as in HTTP */
  end: number;
}

export type RangeResult =
  /** no Range header, another unit, or a syntactically invalid one: serve the whole representation */
  | { type: 'none' }
  /** valid syntax but nothing satisfiable: 416 with `Content-Range: bytes *\/size` */
  | { type: 'unsatisfiable' }
  | { type: 'ranges'; ranges: ByteRange[] };

export interface ParseRangeOptions {
  /** more ranges than this (after coalescing) are ignored: the whole representation is served */
  maxRanges?: number;
}

export const DEFAULT_MAX_RANGES = 16;

const INT_RANGE = /^(\d+)-(\d*)$/;
const SUFFIX_RANGE = /^-(\d+)$/;

/**
 * Parse a `Range` header against a representation of `size` bytes.
 *
 * - Only the `bytes` unit (case-insensitive) is understood; any other unit is ignored (`none`).
 * - Empty list elements are accepted (RFC 9110 §5.6.1.2): `bytes=0-1,,5-6`.
 * - An invalid range-spec (`5-1`, `abc`, `1-2-3`) makes the whole header invalid → `none`.
 * - Unsatisfiable specs (first-pos ≥ size, zero-length suffix) are dropped; if none is left →
 *   `unsatisfiable`.
 * - `last-pos` beyond the end is clamped; a suffix longer than the file means the whole file.
 * - Overlapping ranges are coalesced (sorted and merged), the defence RFC 9110 §14.2 suggests
 *   against many-overlapping-ranges abuse; more than `maxRanges` after that → `none`.
 * - A zero-length representation has no byte to select: the header is ignored (`none`), as nginx
 *   and Python do, rather than answering 206 with an impossible `Content-Range`.
 */
export function parseRange(
  header: string | undefined,
  size: number,
  options: ParseRangeOptions = {},
): RangeResult {
  if (header === undefined) return { type: 'none' };
  const eq = header.indexOf('=');
  if (eq === -1) return { type: 'none' };
  if (header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { type: 'none' };
  if (size <= 0) return { type: 'none' };
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length === 0) return { type: 'none' };
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const int = INT_RANGE.exec(spec);
    if (int) {
      const first = Number(int[1]);
      const last = int[2] === '' ? Number.POSITIVE_INFINITY : Number(int[2]);
      if (last < first) return { type: 'none' };
      if (first >= size) continue;
      ranges.push({ start: first, end: Math.min(last, size - 1) });
      continue;
    }
    const suffix = SUFFIX_RANGE.exec(spec);
    if (suffix) {
      const len = Number(suffix[1]);
      if (len === 0) continue;
      ranges.push({ start: Math.max(0, size - len), end: size - 1 });
      continue;
    }
    return { type: 'none' };
  }
  if (ranges.length === 0) return { type: 'unsatisfiable' };
  const result = overlaps(ranges) ? coalesce(ranges) : ranges;
  if (result.length > (options.maxRanges ?? DEFAULT_MAX_RANGES)) return { type: 'none' };
  return { type: 'ranges', ranges: result };
}

function overlaps(ranges: ByteRange[]): boolean {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.start <= sorted[i - 1]!.end) return true;
  return false;
}

/** Sort and merge overlapping or adjacent ranges. */
export function coalesce(ranges: ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: ByteRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push({ ...r });
  }
  return out;
}

export interface ContentRange {
  /** undefined for the unsatisfied form `bytes *\/size` */
  start?: number;
  end?: number;
  /** undefined when the server sent `*` */
  total?: number;
}

const CONTENT_RANGE = /^bytes[ \t]+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i;

/**
 * Parse a `Content-Range` response header (`bytes 0-99/1000`, `bytes 0-99/*`, `bytes *\/1000`).
 * Returns undefined for anything malformed, including `end < start` or `end ≥ total`, so a client
 * can treat a lying server the same way as a garbled one.
 */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  const m = CONTENT_RANGE.exec(value.trim());
  if (!m) return undefined;
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (m[1] === undefined) return total === undefined ? undefined : { total };
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) return undefined;
  if (total !== undefined && end >= total) return undefined;
  if (!Number.isSafeInteger(end) || (total !== undefined && !Number.isSafeInteger(total))) return undefined;
  return total === undefined ? { start, end } : { start, end, total };
}

export function formatContentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}
