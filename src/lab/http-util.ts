/** Small helpers for the dashboard's node:http handlers (no framework: the API is small). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyTooLarge } from '../http/unread-body.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The policy of a response that is data, not a page: it loads nothing and is not framed. */
const DATA_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * The security headers of every dashboard response — pages, API data and errors alike: no type
 * sniffing (a JSON or text answer carries mail text, which must never be read as HTML), no Referer
 * leaving what it shows, and a Content-Security-Policy: `csp`, where a response has its own.
 */
export function securityHeaders(csp = DATA_CSP): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-security-policy': csp,
  };
}

/** The same headers as lines of a response written by hand (CRLF after each). */
export function securityHeaderLines(): string {
  return Object.entries(securityHeaders())
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(data),
    'cache-control': 'no-store',
    ...securityHeaders(),
  });
  res.end(data);
}

/** A request we cannot read (target, Host): a short text 400, and the connection is not kept. */
export function badRequest(res: ServerResponse, reason: string): void {
  const body = `Bad Request: ${reason}\n`;
  res.shouldKeepAlive = false;
  res.writeHead(400, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...securityHeaders(),
  });
  res.end(body);
}

export async function readJson(req: IncomingMessage, limit = 64 * 1024): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) throw new HttpError(415, 'send application/json');
  if (bodyTooLarge(req, limit)) throw new HttpError(413, 'request body too large');
  const chunks: Buffer[] = [];
  let size = 0;
  // leaving a plain `for await` early destroys the request, and the connection with it: the 413
  // (which said keep-alive) was followed by a reset that can erase it before the client reads it.
  // The rest of the body is left to unread-body.ts.
  for await (const c of req.iterator({ destroyOnReturn: false })) {
    size += (c as Buffer).length;
    if (size > limit) throw new HttpError(413, 'request body too large');
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error();
    return v as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'invalid JSON body');
  }
}

/** A file name safe inside a Content-Disposition header (RFC 6266 with an RFC 5987 UTF-8 form). */
export function contentDisposition(kind: 'attachment' | 'inline', filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/** True when a state-changing request comes from our own page (or a non-browser client). */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  if (site && site !== 'same-origin' && site !== 'none') return false;
  if (origin === undefined) return true;
  return origin === `http://${req.headers.host}` || origin === `https://${req.headers.host}`;
}
