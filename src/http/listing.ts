/**
 * Directory listings for the file server, as HTML (for people) and JSON (`?format=json`, for
 * scripts and the lab dashboard). Pure rendering of entries the server has already read, so the
 * escaping rules are tested on their own: every name is HTML-escaped in text and percent-encoded
 * in links, and the page is served with a CSP that allows no script at all.
 */
import { formatBytes } from '../core/format.js';
import { percentEncodeName } from './byte-path.js';

export interface ListingEntry {
  /** the name as text: bytes that are not UTF-8 show as U+FFFD */
  name: string;
  /** the name's bytes when they are not UTF-8: links are made of them (byte-path.ts) */
  bytes?: Buffer;
  type: 'file' | 'directory' | 'other';
  /** absent when unknown: the entry could not be examined, or is a link leading out of the root */
  size?: number;
  /** milliseconds since the epoch; absent when unknown, like size */
  mtimeMs?: number;
}

/** Security headers for generated pages: no scripts, no framing, no sniffing. */
export const LISTING_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

/** `1.5 MiB`: binary units, one decimal. */
export const humanSize = formatBytes;

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** Directories first, then by name (code-point order, stable across locales). */
export function sortEntries(entries: ListingEntry[]): ListingEntry[] {
  return [...entries].sort((a, b) => {
    if ((a.type === 'directory') !== (b.type === 'directory')) return a.type === 'directory' ? -1 : 1;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

/**
 * `urlPath` is the decoded request path of the directory, ending in `/`. `total` is how many entries
 * the directory has when `entries` is only the first part of them: the page then says so.
 */
export function renderListingHtml(urlPath: string, entries: ListingEntry[], total = entries.length): string {
  const title = `Index of ${escapeHtml(urlPath)}`;
  const rows = sortEntries(entries).map((e) => {
    const slash = e.type === 'directory' ? '/' : '';
    const href = `${percentEncodeName(e.bytes ?? e.name)}${slash}`;
    const size = e.type === 'directory' || e.size === undefined ? '-' : humanSize(e.size);
    const when =
      e.mtimeMs === undefined ? '-' : new Date(e.mtimeMs).toISOString().replace('T', ' ').slice(0, 19);
    return `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(e.name)}${slash}</a></td><td>${size}</td><td>${when}</td></tr>`;
  });
  const up = urlPath === '/' ? '' : '<tr><td><a href="../">../</a></td><td></td><td></td></tr>\n';
  const more = total - entries.length;
  const cut = more > 0 ? `<p>… ${more} more ${more === 1 ? 'entry' : 'entries'} not shown</p>\n` : '';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.15em 1em .15em 0}td:nth-child(2){text-align:right}</style>
</head><body><h1>${title}</h1>
<table>
${up}${rows.join('\n')}
</table>
${cut}</body></html>
`;
}

/**
 * As renderListingHtml; a cut listing carries `"truncated": true` and the `total`. A name that is
 * not UTF-8 carries its link too (`"href"`, its bytes percent-encoded): its `name` cannot say them.
 */
export function renderListingJson(urlPath: string, entries: ListingEntry[], total = entries.length): string {
  return `${JSON.stringify({
    path: urlPath,
    ...(total > entries.length ? { truncated: true, total } : {}),
    entries: sortEntries(entries).map((e) => ({
      name: e.name,
      ...(e.bytes ? { href: percentEncodeName(e.bytes) } : {}),
      type: e.type,
      ...(e.size === undefined ? {} : { size: e.size }),
      ...(e.mtimeMs === undefined ? {} : { mtime: new Date(e.mtimeMs).toISOString() }),
    })),
  })}\n`;
}
