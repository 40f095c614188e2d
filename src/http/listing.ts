/**
 * Directory listings for the file server, as HTML (for people) and JSON (`?format=json`, for
 * scripts and the lab dashboard). Pure rendering of entries the server has already read, so the
 * escaping rules are tested on their own: every name is HTML-escaped in text and percent-encoded
 * in links, and the page is served with a CSP that allows no script at all.
 */
import { formatBytes } from '../core/format.js';

export interface ListingEntry {
  name: string;
  type: 'file' | 'directory' | 'other';
  size: number;
  /** milliseconds since the epoch */
  mtimeMs: number;
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

/** `urlPath` is the decoded request path of the directory, ending in `/`. */
export function renderListingHtml(urlPath: string, entries: ListingEntry[]): string {
  const title = `Index of ${escapeHtml(urlPath)}`;
  const rows = sortEntries(entries).map((e) => {
    const slash = e.type === 'directory' ? '/' : '';
    const href = `${encodeURIComponent(e.name)}${slash}`;
    const size = e.type === 'directory' ? '-' : humanSize(e.size);
    const when = new Date(e.mtimeMs).toISOString().replace('T', ' ').slice(0, 19);
    return `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(e.name)}${slash}</a></td><td>${size}</td><td>${when}</td></tr>`;
  });
  const up = urlPath === '/' ? '' : '<tr><td><a href="../">../</a></td><td></td><td></td></tr>\n';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.15em 1em .15em 0}td:nth-child(2){text-align:right}</style>
</head><body><h1>${title}</h1>
<table>
${up}${rows.join('\n')}
</table></body></html>
`;
}

export function renderListingJson(urlPath: string, entries: ListingEntry[]): string {
  return `${JSON.stringify({
    path: urlPath,
    entries: sortEntries(entries).map((e) => ({
      name: e.name,
      type: e.type,
      size: e.size,
      mtime: new Date(e.mtimeMs).toISOString(),
    })),
  })}\n`;
}
