/**
 * The resume sidecar `FILE.part.netkit`: which remote file the `.part` belongs to (URL, size,
 * validators) and which byte spans of it are safely on disk. Written atomically (temp file, fsync,
 * rename) so a crash at any moment leaves the previous or the next state, never a torn one — and
 * only after the `.part` itself was synced, so it never claims bytes the disk does not have.
 *
 * A single stream's sidecar ({@link StreamControl}) has no spans: one stream writes its `.part` in
 * order and never sets its length ahead, so the `.part`'s length is how far it got, as wget -c and
 * curl -C - read it; the sidecar only says which body those bytes are the start of.
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

/** The fields every control file has, checked; undefined when the text is not one. */
function decodeCommon(text: string): Record<string, unknown> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const c = raw as Record<string, unknown>;
  if (c.version !== 1 || typeof c.url !== 'string') return undefined;
  if (c.size !== undefined && (!Number.isSafeInteger(c.size) || (c.size as number) < 0)) return undefined;
  if (c.etag !== undefined && typeof c.etag !== 'string') return undefined;
  if (c.lastModified !== undefined && typeof c.lastModified !== 'string') return undefined;
  return c;
}

/** Parse and validate a control file's text; anything inconsistent → undefined (start over). */
export function decodeControl(text: string): (ControlState & { spans: Span[] }) | undefined {
  const c = decodeCommon(text);
  if (c?.size === undefined || c.stream !== undefined || !Array.isArray(c.done)) return undefined;
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

/** One stream's sidecar: the body its `.part` begins (its length when known, its validators). */
export interface StreamControl {
  version: 1;
  stream: true;
  url: string;
  size?: number;
  etag?: string;
  lastModified?: string;
  updated: string;
}

export function encodeStreamControl(state: {
  url: string;
  size?: number | undefined;
  etag?: string | undefined;
  lastModified?: string | undefined;
}): string {
  const out: StreamControl = { version: 1, stream: true, url: state.url, updated: new Date().toISOString() };
  if (state.size !== undefined) out.size = state.size;
  if (state.etag !== undefined) out.etag = state.etag;
  if (state.lastModified !== undefined) out.lastModified = state.lastModified;
  return `${JSON.stringify(out)}\n`;
}

/** A stream's sidecar, or undefined (no such file, a segmented download's, anything malformed). */
export function decodeStreamControl(text: string): StreamControl | undefined {
  const c = decodeCommon(text);
  return c?.stream === true && c.done === undefined ? (c as unknown as StreamControl) : undefined;
}

export async function readStreamControl(file: string): Promise<StreamControl | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : decodeStreamControl(text);
}

export async function writeStreamControl(
  file: string,
  state: Parameters<typeof encodeStreamControl>[0],
): Promise<void> {
  await writeFileAtomic(file, encodeStreamControl(state), 0o644);
}
