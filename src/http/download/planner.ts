/**
 * The segment planner: which bytes go to which connection. Pure functions over half-open spans
 * `[start, end)`, so the invariants the downloader depends on — segments never overlap, together
 * with the finished spans they cover the file exactly — are table-tested without a network.
 *
 * Splitting follows aria2c: N connections share the missing bytes in equal pieces no smaller than
 * the minimum segment size (`-k`). Work stealing at the end: a connection that runs out of work
 * takes the second half of the largest remaining in-flight segment; the slow connection's `end`
 * shrinks and it stops there.
 */

/** A half-open byte span `[start, end)`. */
export interface Span {
  start: number;
  end: number;
}

/** A unit of work. Bytes `[start, pos)` have been received; `[pos, end)` remain. */
export interface Segment extends Span {
  id: number;
  pos: number;
  /** worker holding it; 0 = waiting */
  conn: number;
}

export const spanLength = (s: Span): number => s.end - s.start;

export function totalLength(spans: readonly Span[]): number {
  return spans.reduce((n, s) => n + spanLength(s), 0);
}

/** Sort, drop empty spans, merge overlapping and adjacent ones. */
export function mergeSpans(spans: readonly Span[]): Span[] {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ start: s.start, end: s.end });
  }
  return out;
}

/** The parts of `[0, size)` not covered by `done`. */
export function missingSpans(size: number, done: readonly Span[]): Span[] {
  const out: Span[] = [];
  let at = 0;
  for (const s of mergeSpans(done)) {
    const start = Math.max(0, Math.min(s.start, size));
    const end = Math.max(0, Math.min(s.end, size));
    if (start > at) out.push({ start: at, end: start });
    at = Math.max(at, end);
  }
  if (at < size) out.push({ start: at, end: size });
  return out;
}

/**
 * Split the missing spans into segments for `connections` workers: each span gets a share of the
 * connections proportional to its length (at least one), cut into equal pieces no shorter than
 * `minSegment` (a span shorter than that stays whole). Never returns an empty span. With several
 * holes the count may exceed `connections` by a little; extra pieces wait for a free worker.
 */
export function planSegments(missing: readonly Span[], connections: number, minSegment: number): Span[] {
  const n = Math.max(1, Math.floor(connections));
  const min = Math.max(1, Math.floor(minSegment));
  const total = totalLength(missing);
  if (total === 0) return [];
  const out: Span[] = [];
  for (const s of mergeSpans(missing)) {
    const len = spanLength(s);
    const pieces = Math.max(1, Math.min(Math.round((len * n) / total), Math.floor(len / min)));
    for (let i = 0; i < pieces; i++) {
      const start = s.start + Math.floor((len * i) / pieces);
      const end = s.start + Math.floor((len * (i + 1)) / pieces);
      if (end > start) out.push({ start, end });
    }
  }
  return out;
}

/**
 * Work stealing: pick the in-flight segment with the most bytes remaining and the point to cut it
 * at (the middle of what remains). Nothing is returned when every remainder is below
 * `2 × minSegment` — splitting it would cost a new request for too little gain.
 */
export function pickSteal(
  active: readonly Pick<Segment, 'pos' | 'end'>[],
  minSegment: number,
): { index: number; at: number } | undefined {
  let best = -1;
  let bestRemaining = 0;
  active.forEach((s, i) => {
    const remaining = s.end - s.pos;
    if (remaining > bestRemaining) {
      best = i;
      bestRemaining = remaining;
    }
  });
  if (best === -1 || bestRemaining < 2 * Math.max(1, minSegment)) return undefined;
  const victim = active[best]!;
  return { index: best, at: victim.pos + Math.ceil(bestRemaining / 2) };
}

/**
 * Apply a steal: the victim's `end` becomes `at`, and the returned span `[at, oldEnd)` is the
 * thief's. Throws if `at` is not strictly inside what remains (that would overlap or leave a gap).
 */
export function splitSegment(victim: Segment, at: number): Span {
  if (!(at > victim.pos && at < victim.end))
    throw new RangeError(`cannot split [${victim.pos}, ${victim.end}) at ${at}`);
  const stolen = { start: at, end: victim.end };
  victim.end = at;
  return stolen;
}

/** The finished spans: completed work plus the received prefix of every live segment. */
export function finishedSpans<S extends Segment>(
  completed: readonly Span[],
  live: readonly S[],
  written?: (s: S) => number,
): Span[] {
  return mergeSpans([
    ...completed,
    ...live.map((s) => ({ start: s.start, end: written ? written(s) : s.pos })),
  ]);
}
