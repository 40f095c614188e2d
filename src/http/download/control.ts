/**
 * The resume sidecar `FILE.part.netkit`: which remote file the `.part` belongs to (URL, size,
 * validators) and which byte spans of it are safely on disk. Written atomically (temp file, fsync,
 * rename) so a crash at any moment leaves the previous or the next state, never a torn one — and
 * only after the `.part` itself was synced, so it never claims bytes the disk does not have.
 */
import { readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../../core/datadir.js';
import { mergeSpans, type Span } from './planner.js';

export interface ControlState {
  version: 1;
  url: string;
  size: number;
  etag?: string;
  lastModified?: string;
  /** finished spans, half-open `[start, end)` pairs */
  done: Array<[number, number]>;
  updated: string;
}

export function controlPath(partFile: string): string {
  return `${partFile}.netkit`;
}

export function encodeControl(state: {
  url: string;
  size: number;
  etag?: string;
  lastModified?: string;
  done: readonly Span[];
}): string {
  const out: ControlState = {
    version: 1,
    url: state.url,
    size: state.size,
    done: mergeSpans(state.done).map((s) => [s.start, s.end]),
    updated: new Date().toISOString(),
  };
  if (state.etag !== undefined) out.etag = state.etag;
  if (state.lastModified !== undefined) out.lastModified = state.lastModified;
  return `${JSON.stringify(out)}\n`;
}

/** Parse and validate a control file's text; anything inconsistent → undefined (start over). */
export function decodeControl(text: string): (ControlState & { spans: Span[] }) | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const c = raw as Record<string, unknown>;
  if (c.version !== 1 || typeof c.url !== 'string' || !Number.isSafeInteger(c.size) || (c.size as number) < 0)
    return undefined;
  if (c.etag !== undefined && typeof c.etag !== 'string') return undefined;
  if (c.lastModified !== undefined && typeof c.lastModified !== 'string') return undefined;
  if (!Array.isArray(c.done)) return undefined;
  const size = c.size as number;
  const spans: Span[] = [];
  for (const pair of c.done) {
    if (!Array.isArray(pair) || pair.length !== 2) return undefined;
    const [start, end] = pair as unknown[];
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return undefined;
    if ((start as number) < 0 || (end as number) > size || (start as number) > (end as number))
      return undefined;
    spans.push({ start: start as number, end: end as number });
  }
  return { ...(c as unknown as ControlState), spans: mergeSpans(spans) };
}

export async function readControl(file: string): Promise<(ControlState & { spans: Span[] }) | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : decodeControl(text);
}

export async function writeControl(file: string, state: Parameters<typeof encodeControl>[0]): Promise<void> {
  await writeFileAtomic(file, encodeControl(state), 0o644);
}

export async function removeControl(file: string): Promise<void> {
  await rm(file, { force: true });
}
