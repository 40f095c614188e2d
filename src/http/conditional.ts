/**
 * Validators and conditional requests (RFC 9110 §8.8 and §13): the file server's strong ETag,
 * `Last-Modified`, the 412 decision (`If-Match`, `If-Unmodified-Since`), the 304 decision
 * (`If-None-Match`, `If-Modified-Since`) and `If-Range`. The server asks them in that order, the one
 * of RFC 9110 §13.2.2. Pure functions of the header values and the file's size and mtime, so they are
 * table-tested without a server.
 */

export interface Validators {
  /** strong entity tag, quotes included */
  etag: string;
  /** milliseconds since the epoch */
  mtimeMs: number;
}

/**
 * A strong ETag from size and modification time (nginx's recipe, with millisecond precision):
 * `"<mtime ms hex>-<size hex>"`. Changing either changes the tag.
 */
export function makeEtag(size: number, mtimeMs: number): string {
  return `"${Math.floor(mtimeMs).toString(16)}-${size.toString(16)}"`;
}

/** IMF-fixdate, the only form a server sends (`Sun, 06 Nov 1994 08:49:37 GMT`). */
export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC850 = /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/** Parse the three HTTP-date forms a recipient must accept; anything else → undefined. */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (!IMF_FIXDATE.test(v) && !RFC850.test(v) && !ASCTIME.test(v)) return undefined;
  const ms = Date.parse(ASCTIME.test(v) ? `${v} GMT` : v);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Entity tags of an `If-None-Match` / `If-Match` list; `*` is returned as `['*']`. */
export function parseEtagList(value: string): string[] {
  const v = value.trim();
  if (v === '*') return ['*'];
  return v.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** `Last-Modified` carries whole seconds: compare dates at that precision. */
const lastModified = (v: Validators): number => Math.floor(v.mtimeMs / 1000) * 1000;

/**
 * Should the request fail with 412 (RFC 9110 §13.2.2 steps 1–2)? `If-Match` uses the strong
 * comparison (a weak tag never matches; `*` matches, the file exists). `If-Unmodified-Since` is only
 * read without `If-Match`, and ignored when it is not a date.
 */
export function preconditionFailed(
  headers: { 'if-match'?: string; 'if-unmodified-since'?: string },
  v: Validators,
): boolean {
  const im = headers['if-match'];
  if (im !== undefined) {
    const tags = parseEtagList(im);
    return !tags.includes('*') && !tags.includes(v.etag);
  }
  const since = parseHttpDate(headers['if-unmodified-since']);
  return since !== undefined && lastModified(v) > since;
}

/**
 * Should a GET/HEAD be answered 304? `If-None-Match` (weak comparison) wins; `If-Modified-Since`
 * is only looked at when there is no `If-None-Match` (RFC 9110 §13.2.2), compared at one-second
 * precision because that is all `Last-Modified` carries.
 */
export function isNotModified(
  headers: { 'if-none-match'?: string; 'if-modified-since'?: string },
  v: Validators,
): boolean {
  const inm = headers['if-none-match'];
  if (inm !== undefined) {
    const tags = parseEtagList(inm);
    return tags.includes('*') || tags.some((t) => opaque(t) === opaque(v.etag));
  }
  const since = parseHttpDate(headers['if-modified-since']);
  if (since === undefined) return false;
  return lastModified(v) <= since;
}

/**
 * Does `If-Range` allow the Range to apply? An entity tag must match strongly (a weak tag never
 * matches); a date must equal `Last-Modified` exactly, and only counts when that `Last-Modified` is
 * strong: at least a second older than `now`, the response's `Date` (RFC 9110 §13.1.5, §8.8.2.2).
 * A file written within the last second may be rewritten within the same second under the same
 * date, and a range of the new bytes would be spliced onto the old ones. Anything else means "send
 * the whole file".
 */
export function ifRangeMatches(value: string | undefined, v: Validators, now = Date.now()): boolean {
  if (value === undefined) return true;
  const t = value.trim();
  if (t.startsWith('W/')) return false;
  if (t.startsWith('"')) return t === v.etag;
  const date = parseHttpDate(t);
  if (date === undefined || now - v.mtimeMs < 1000) return false;
  return date === lastModified(v);
}
