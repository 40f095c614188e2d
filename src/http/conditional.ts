/**
 * Validators and conditional requests (RFC 9110 §8.8 and §13): the file server's strong ETag,
 * `Last-Modified`, the 304 decision (`If-None-Match`, `If-Modified-Since`) and `If-Range`. Pure
 * functions of the header values and the file's size and mtime, so they are table-tested without a
 * server.
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
  return Math.floor(v.mtimeMs / 1000) * 1000 <= since;
}

/**
 * Does `If-Range` allow the Range to apply? An entity tag must match strongly (a weak tag never
 * matches); a date must equal `Last-Modified` exactly. Anything else means "send the whole file".
 */
export function ifRangeMatches(value: string | undefined, v: Validators): boolean {
  if (value === undefined) return true;
  const t = value.trim();
  if (t.startsWith('W/')) return false;
  if (t.startsWith('"')) return t === v.etag;
  const date = parseHttpDate(t);
  return date !== undefined && date === Math.floor(v.mtimeMs / 1000) * 1000;
}
