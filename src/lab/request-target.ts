/**
 * How the dashboard reads a request's target and Host, or the reason it is a 400.
 *
 * node:http hands over any target its parser accepted, and `new URL(target, base)` throws on many
 * of them (`//[`, `http://[`, `//x:99999`, `http://%zz/`): thrown inside a handler that was a 500,
 * thrown inside the 'upgrade' listener it took the lab down. It also misread `//x/api/v1/status`
 * as host `x` and path `/api/v1/status`. So the target is split here by its RFC 9112 §3.2 form
 * first, origin-form (`/path?query`) is parsed as a path and nothing else, and what cannot be read
 * is the client's error. A pure function so that it is table-tested on its own.
 *
 * Host (RFC 9112 §3.2): more than one, or one that is not `host[:port]`, is a 400. The accepted
 * names are the ones DNS and IP literals use (letters, digits, `.`, `-`, `_`, `~`): sub-delims such
 * as `;` and `,` are legal in a URI's reg-name but name no real host, and the Host is echoed into
 * headers (the mail view's Content-Security-Policy), where `;` would start a new directive.
 */
import { validHost } from '../core/host-check.js';

export type ParsedRequest =
  | {
      ok: true;
      /** the target as a URL on a placeholder origin: only pathname and searchParams are meaningful */
      url: URL;
      /** the host the request is for: an absolute-form target's authority, else the Host header */
      host: string | undefined;
    }
  | { ok: false; reason: string };

/** Visible ASCII only: node's parser refuses the rest today, but this must not depend on it. */
const TARGET_CHARS = /^[\x21-\x7e]+$/;
/** RFC 3986 absolute path: "/" and pchar (unreserved, sub-delims, ":", "@", %HH) only. */
const PATH = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;
const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)(.*)$/i;
const ORIGIN = 'http://dashboard';

/**
 * The request target as a URL (origin-form, absolute-form, or `*`), or why it cannot be read.
 * The path must be an RFC 3986 absolute path that does not begin with "//" (a URL parser reads
 * `//x:99999/a` as host `x`, port 99999: one target, two meanings); `[ ] | ^ { } \ " < >` and a
 * `%` without two hex digits are not path characters. The query is only held to visible ASCII
 * (browsers send `[ ] { } |` there unencoded, and URLSearchParams reads anything).
 */
export function parseTarget(
  target: string,
): { ok: true; url: URL; authority?: string } | { ok: false; reason: string } {
  if (!TARGET_CHARS.test(target))
    return { ok: false, reason: 'request target with spaces, controls or non-ASCII bytes' };
  let authority: string | undefined;
  let rest = target;
  const abs = ABSOLUTE_FORM.exec(target);
  if (abs) {
    authority = abs[1]!;
    if (authority.includes('@')) return { ok: false, reason: 'userinfo in the request target' };
    if (!validHost(authority)) return { ok: false, reason: 'bad authority in the request target' };
    rest = abs[2]!.startsWith('/') ? abs[2]! : `/${abs[2]!}`;
  } else if (target === '*') {
    // asterisk-form (OPTIONS *): no resource of ours has that name
    rest = '/*';
  } else if (!target.startsWith('/')) {
    return { ok: false, reason: 'request target is neither a path nor an http URL' };
  }
  const q = rest.indexOf('?');
  const pathPart = q === -1 ? rest : rest.slice(0, q);
  if (pathPart.startsWith('//')) return { ok: false, reason: 'request path begins with //' };
  if (target !== '*' && !PATH.test(pathPart)) return { ok: false, reason: 'malformed request path' };
  try {
    // glued to a placeholder origin, not resolved against it as a base: the path stays a path
    return { ok: true, url: new URL(`${ORIGIN}${rest}`), authority };
  } catch {
    return { ok: false, reason: 'unparsable request target' };
  }
}

/** Target and Host of a request as node:http parsed it. */
export function parseRequest(req: {
  url?: string;
  headers: { host?: string };
  headersDistinct?: Record<string, string[] | undefined>;
}): ParsedRequest {
  const target = parseTarget(req.url ?? '/');
  if (!target.ok) return target;
  const hosts = req.headersDistinct?.host ?? (req.headers.host === undefined ? [] : [req.headers.host]);
  if (hosts.length > 1) return { ok: false, reason: 'more than one Host' };
  const header = hosts[0];
  if (header !== undefined && !validHost(header)) return { ok: false, reason: 'malformed Host' };
  return { ok: true, url: target.url, host: target.authority ?? header };
}
