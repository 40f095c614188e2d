/**
 * The REST API under /api/v1: everything the dashboard shows, for browsers and for test suites that
 * assert on captured mail. Documented by `openapi.ts` (served at /api/v1/openapi.json).
 */

import { createReadStream, type Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream';
import { displayPath } from '../http/byte-path.js';
import { jail, statForListing } from '../http/request-path.js';
import { decodeHeaderWords } from '../mail/encoded-words.js';
import type { LabContext } from './context.js';
import { contentDisposition, HttpError, readJson, securityHeaders, sendJson } from './http-util.js';
import { openapi } from './openapi.js';

type Handler = (
  ctx: LabContext,
  req: IncomingMessage,
  res: ServerResponse,
  p: string[],
  url: URL,
) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

const MB = '([a-z0-9][a-z0-9._+-]*)';
const ID = '([^/]+)';

const routes: Route[] = [];
function route(method: string, pattern: string, handler: Handler): void {
  routes.push({ method, pattern: new RegExp(`^${pattern}$`, 'i'), handler });
}

function int(v: string | null, def: number): number {
  const n = Number(v);
  return v !== null && Number.isInteger(n) && n > 0 ? n : def;
}

route('GET', '/openapi.json', async (_c, _q, res) => sendJson(res, 200, openapi));
route('GET', '/status', async (ctx, _q, res) => {
  const boxes = await ctx.mail.mailboxes();
  sendJson(res, 200, {
    services: ctx.status(),
    mail: { mailboxes: boxes.length, messages: boxes.reduce((n, b) => n + b.total, 0) },
  });
});
route('GET', '/mailboxes', async (ctx, _q, res) => sendJson(res, 200, await ctx.mail.mailboxes()));
route('GET', '/messages', async (ctx, _q, res, _p, url) => {
  const result = await ctx.mail.list({
    mailbox: url.searchParams.get('mailbox') || undefined,
    query: url.searchParams.get('q') || undefined,
    page: int(url.searchParams.get('page'), 1),
    pageSize: int(url.searchParams.get('pageSize'), 50),
  });
  sendJson(res, 200, result);
});
route('DELETE', '/messages', async (ctx, _q, res, _p, url) => {
  const deleted = await ctx.mail.removeAll(url.searchParams.get('mailbox') || undefined);
  sendJson(res, 200, { deleted });
});

async function loadMessage(ctx: LabContext, mailbox: string, id: string) {
  try {
    return await ctx.mail.parsed(mailbox, decodeURIComponent(id));
  } catch {
    throw new HttpError(404, 'no such message');
  }
}

route('GET', `/messages/${MB}/${ID}`, async (ctx, _q, res, [mb, id]) => {
  const email = await loadMessage(ctx, mb!, id!);
  const uid = decodeURIComponent(id!);
  await ctx.mail.refresh();
  const summary = ctx.mail.summary(mb!, uid);
  sendJson(res, 200, {
    mailbox: mb,
    id: uid,
    read: summary?.read ?? false,
    size: summary?.size,
    from: email.from,
    to: email.to ?? [],
    cc: email.cc ?? [],
    replyTo: email.replyTo ?? [],
    // the envelope recipient this copy was delivered for (smtp serve's Delivered-To): the only
    // trace of a Bcc recipient
    deliveredTo: email.headers.find((h) => h.key === 'delivered-to')?.value.trim(),
    subject: email.subject ?? '',
    date: email.date,
    messageId: email.messageId,
    // `value` readable (RFC 2047 encoded words decoded, as in the Subject above), `raw` as sent
    headers: email.headers.map((h) => ({
      key: h.originalKey ?? h.key,
      value: decodeHeaderWords(h.value),
      raw: h.value,
    })),
    text: email.text ?? '',
    hasHtml: Boolean(email.html),
    attachments: email.attachments.map((a, index) => ({
      index,
      filename: a.filename ?? `part-${index}`,
      mimeType: a.mimeType,
      size: (a.content as ArrayBuffer).byteLength,
      contentId: a.contentId?.replace(/^<|>$/g, ''),
      inline: a.disposition === 'inline',
    })),
  });
});
route('POST', `/messages/${MB}/${ID}/read`, async (ctx, _q, res, [mb, id]) => {
  if (!(await ctx.mail.markRead(mb!, decodeURIComponent(id!)))) throw new HttpError(404, 'no such message');
  sendJson(res, 200, { ok: true });
});
route('DELETE', `/messages/${MB}/${ID}`, async (ctx, _q, res, [mb, id]) => {
  if (!(await ctx.mail.remove(mb!, decodeURIComponent(id!)))) throw new HttpError(404, 'no such message');
  sendJson(res, 200, { ok: true });
});
route('GET', `/messages/${MB}/${ID}/raw`, async (ctx, _q, res, [mb, id]) => {
  let raw: Buffer;
  try {
    raw = await ctx.mail.raw(mb!, decodeURIComponent(id!));
  } catch {
    throw new HttpError(404, 'no such message');
  }
  res.writeHead(200, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': raw.length,
    ...securityHeaders(),
  });
  res.end(raw);
});
route('GET', `/messages/${MB}/${ID}/transcript`, async (ctx, _q, res, [mb, id]) => {
  const text = ctx.transcript ? await ctx.transcript(mb!, decodeURIComponent(id!)) : undefined;
  if (text === undefined) throw new HttpError(404, 'no transcript for this message');
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', ...securityHeaders() });
  res.end(text);
});
route('GET', `/messages/${MB}/${ID}/html`, async (ctx, req, res, [mb, id], url) => {
  const email = await loadMessage(ctx, mb!, id!);
  const base = `/api/v1/messages/${mb}/${id}`;
  const html = (email.html ?? '').replace(/(["'(=\s])cid:([^"')\s>]+)/gi, (_m, pre: string, cid: string) => {
    return `${pre}${base}/cid/${encodeURIComponent(cid)}`;
  });
  const remote = url.searchParams.get('remote') === '1';
  const self = `http://${req.headers.host}`;
  // Links open in a new tab, as in Mailpit: followed inside the frame they would be blocked by the
  // dashboard's frame-src (and a reset link is what a developer opens a test mail for). The frame
  // may open popups that escape its sandbox; the message itself still runs nothing.
  const body = `<base target="_blank">${html}`;
  // The message is hostile until proven otherwise: no script, no forms, no same-origin access, no
  // remote loads unless the user asked for images. The iframe is sandboxed too (defence in depth).
  // no-referrer: a link opened from the message does not tell its site where the mail was read
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    ...securityHeaders(
      [
        "default-src 'none'",
        `img-src ${self} data:${remote ? ' https: http:' : ''}`,
        "style-src 'unsafe-inline'",
        'font-src data:',
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
        'sandbox allow-popups allow-popups-to-escape-sandbox',
      ].join('; '),
    ),
  });
  res.end(body);
});
route('GET', `/messages/${MB}/${ID}/parts/(\\d+)`, async (ctx, _q, res, [mb, id, index]) => {
  const email = await loadMessage(ctx, mb!, id!);
  const part = email.attachments[Number(index)];
  if (!part) throw new HttpError(404, 'no such part');
  const body = Buffer.from(part.content as ArrayBuffer);
  res.writeHead(200, {
    'content-type': part.mimeType || 'application/octet-stream',
    'content-length': body.length,
    'content-disposition': contentDisposition('attachment', part.filename ?? `part-${index}`),
    ...securityHeaders("default-src 'none'; sandbox"),
  });
  res.end(body);
});
route('GET', `/messages/${MB}/${ID}/cid/([^/]+)`, async (ctx, _q, res, [mb, id, cid]) => {
  const email = await loadMessage(ctx, mb!, id!);
  const wanted = decodeURIComponent(cid!);
  const part = email.attachments.find((a) => a.contentId?.replace(/^<|>$/g, '') === wanted);
  if (!part || !/^image\//i.test(part.mimeType)) throw new HttpError(404, 'no such inline image');
  const body = Buffer.from(part.content as ArrayBuffer);
  res.writeHead(200, {
    'content-type': part.mimeType,
    'content-length': body.length,
    ...securityHeaders("default-src 'none'; sandbox"),
    'cross-origin-resource-policy': 'cross-origin',
  });
  res.end(body);
});

route('GET', '/accounts', async (ctx, _q, res) => {
  const perms = ctx.ftp?.permissions() ?? {};
  const accounts: Array<{
    name: string;
    class: string;
    expires?: string;
    created: string;
    permissions: string;
  }> = (await ctx.accounts.list()).map((a) => ({
    name: a.name,
    class: a.class as string,
    expires: a.expires,
    created: a.created,
    permissions: perms[a.class] ?? '',
  }));
  accounts.push({
    name: 'anonymous',
    class: 'anonymous',
    expires: undefined,
    created: '',
    permissions: perms.anonymous ?? '',
  });
  sendJson(res, 200, accounts);
});

/** Resolve a tree path inside the FTP root, refusing anything that escapes it (symlinks included). */
async function ftpPath(ctx: LabContext, rel: string | null): Promise<{ root: string; real: string }> {
  if (!ctx.ftp) throw new HttpError(404, 'FTP is not running');
  const root = await realpath(ctx.ftp.root);
  const clean = path.posix.normalize(`/${rel ?? ''}`).replace(/^\/+/, '');
  if (clean.includes('\0')) throw new HttpError(400, 'bad path');
  const jailed = await jail(root, path.join(root, clean));
  if (!jailed.ok)
    throw jailed.status === 403
      ? new HttpError(403, 'path outside the FTP root')
      : new HttpError(404, 'no such file or directory');
  // a name that is not UTF-8 stays as Node's string paths show it (the tree lists by text)
  return { root, real: displayPath(jailed.real) };
}

/** A tree entry: a symlink is described by its target only when that is inside the FTP root. */
async function treeEntry(root: string, dir: string, e: Dirent) {
  const st = await statForListing(root, path.join(dir, e.name));
  if (!st) return { name: e.name, type: 'other', size: 0 };
  return { name: e.name, type: st.isDirectory() ? 'dir' : 'file', size: st.size, modified: st.mtime };
}

route('GET', '/ftp/tree', async (ctx, _q, res, _p, url) => {
  const { root, real: dir } = await ftpPath(ctx, url.searchParams.get('path'));
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => {
    throw new HttpError(400, 'not a directory');
  });
  const out = await Promise.all(entries.map((e) => treeEntry(root, dir, e)));
  out.sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === 'dir' ? -1 : 1));
  sendJson(res, 200, { path: url.searchParams.get('path') ?? '', entries: out });
});
route('GET', '/ftp/file', async (ctx, _q, res, _p, url) => {
  const { real: file } = await ftpPath(ctx, url.searchParams.get('path'));
  const st = await stat(file);
  if (!st.isFile()) throw new HttpError(400, 'not a file');
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': st.size,
    'content-disposition': contentDisposition('attachment', path.basename(file)),
    ...securityHeaders(),
  });
  // pipeline, not pipe: an aborted download must not leave the file descriptor open
  pipeline(createReadStream(file), res, () => {});
});
route('GET', '/ftp/sessions', async (ctx, _q, res) => sendJson(res, 200, ctx.ftp?.sessions() ?? []));

route('GET', '/chat/rooms', async (ctx, _q, res) => sendJson(res, 200, ctx.chat?.rooms() ?? []));
route('GET', '/chat/rooms/([^/]+)/messages', async (ctx, _q, res, [room]) => {
  if (!ctx.chat) throw new HttpError(404, 'chat is not running');
  sendJson(res, 200, ctx.chat.history(decodeURIComponent(room!)));
});
route('POST', '/chat/rooms/([^/]+)/messages', async (ctx, req, res, [room]) => {
  if (!ctx.chat) throw new HttpError(404, 'chat is not running');
  const body = await readJson(req);
  const nick = typeof body.nick === 'string' && body.nick ? body.nick : 'web';
  const text = typeof body.text === 'string' ? body.text : '';
  if (!text.trim()) throw new HttpError(400, 'text is required');
  try {
    ctx.chat.post(decodeURIComponent(room!), nick, text);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
  sendJson(res, 201, { ok: true });
});

route('GET', '/wire', async (ctx, _q, res, _p, url) => {
  const conn = url.searchParams.get('conn');
  // a typo must not look like "no traffic": Number('abc') would silently match nothing
  if (conn && !/^\d+$/.test(conn)) throw new HttpError(400, 'conn must be a connection number');
  sendJson(
    res,
    200,
    ctx.wire.events({
      service: url.searchParams.get('service') || undefined,
      conn: conn ? Number(conn) : undefined,
      limit: int(url.searchParams.get('limit'), 500),
    }),
  );
});

/** Dispatch one /api/v1 request; returns false when no route matched. */
export async function handleApi(
  ctx: LabContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<boolean> {
  const sub = url.pathname.slice('/api/v1'.length) || '/';
  let pathMatched = false;
  for (const r of routes) {
    const m = r.pattern.exec(sub);
    if (!m) continue;
    pathMatched = true;
    if (r.method !== req.method && !(r.method === 'GET' && req.method === 'HEAD')) continue;
    // handlers decode their path segments; a bad %-escape is the client's error (400), not ours
    for (const seg of m.slice(1)) {
      try {
        decodeURIComponent(seg ?? '');
      } catch {
        throw new HttpError(400, 'malformed %-encoding in the path');
      }
    }
    await r.handler(ctx, req, res, m.slice(1), url);
    return true;
  }
  if (pathMatched) throw new HttpError(405, 'method not allowed');
  return false;
}
