/**
 * Cookie jars for HTTP requests: tough-cookie's `CookieJar` (RFC 6265 matching, public-suffix
 * rejection, Secure/HttpOnly/SameSite) persisted in the Netscape format of cookie-file.ts, so a jar
 * saved by `netkit http … --cookie-jar F` can be read by `curl -b F` and Python's MozillaCookieJar,
 * and the other way round.
 *
 * Two things tough-cookie does that a file store must not: it measures Max-Age from the cookie's
 * last access (a sliding expiry) — we turn Max-Age into an absolute expiry when the cookie arrives —
 * and it has no file format — we convert to and from {@link NetscapeCookie}.
 */
import { isIP } from 'node:net';
import { Cookie, CookieJar } from 'tough-cookie';
import {
  type CookieFileContents,
  type NetscapeCookie,
  readCookieFile,
  writeCookieFile,
} from './cookie-file.js';

export { CookieJar };

/** A jar with the settings curl-like clients want (special-use domains such as `.test` allowed). */
export function createCookieJar(): CookieJar {
  return new CookieJar(null, { rejectPublicSuffixes: true, allowSpecialUseDomain: true, looseMode: true });
}

/** A file cookie as a tough-cookie Cookie. */
export function cookieFromNetscape(c: NetscapeCookie, creation = new Date()): Cookie {
  return new Cookie({
    key: c.name,
    value: c.value,
    domain: c.domain,
    path: c.path,
    secure: c.secure,
    httpOnly: c.httpOnly,
    hostOnly: !c.includeSubdomains,
    expires: c.expires > 0 ? new Date(c.expires * 1000) : 'Infinity',
    creation,
    lastAccessed: creation,
  });
}

/**
 * A tough-cookie Cookie as a file cookie; undefined when it has expired. A cookie of an IP address
 * is host-only whatever its Domain said (`Domain=127.0.0.1` from 127.0.0.1): an address has no
 * subdomains, and curl saves it so (`127.0.0.1 FALSE`; Python's MozillaCookieJar writes
 * `.127.0.0.1 TRUE`, which only matches the address itself too).
 */
export function cookieToNetscape(c: Cookie, now = Date.now()): NetscapeCookie | undefined {
  const expiry = c.expiryTime();
  if (expiry !== undefined && expiry !== Infinity && expiry <= now) return undefined;
  const domain = (c.domain ?? '').replace(/^\./, '');
  return {
    domain,
    includeSubdomains: c.hostOnly === false && isIP(domain.replace(/^\[|\]$/g, '')) === 0,
    path: c.path ?? '/',
    secure: c.secure,
    httpOnly: c.httpOnly,
    expires: expiry === undefined || expiry === Infinity ? 0 : Math.max(1, Math.floor(expiry / 1000)),
    name: c.key,
    value: c.value,
  };
}

/** Put file cookies into a jar (expired ones are dropped, like curl does on load). */
export async function addNetscapeCookies(
  jar: CookieJar,
  cookies: readonly NetscapeCookie[],
): Promise<number> {
  const now = Date.now();
  let added = 0;
  // Distinct creation times keep the file's order among cookies with equally long paths.
  let t = now - cookies.length;
  for (const nc of cookies) {
    t += 1;
    if (nc.expires > 0 && nc.expires * 1000 <= now) continue;
    await jar.store.putCookie(cookieFromNetscape(nc, new Date(t)));
    added += 1;
  }
  return added;
}

/** Every live cookie of a jar, in the jar's order. */
export async function jarToNetscape(jar: CookieJar): Promise<NetscapeCookie[]> {
  const all = await jar.store.getAllCookies();
  const now = Date.now();
  return all.map((c) => cookieToNetscape(c, now)).filter((c): c is NetscapeCookie => c !== undefined);
}

/** Load a Netscape cookie file into a new jar; bad lines come back as warnings. */
export async function loadCookieJar(file: string): Promise<{ jar: CookieJar } & CookieFileContents> {
  const contents = await readCookieFile(file);
  const jar = createCookieJar();
  await addNetscapeCookies(jar, contents.cookies);
  return { jar, ...contents };
}

/** Save every live cookie (session cookies included, expiry 0) atomically with mode 0600. */
export async function saveCookieJar(jar: CookieJar, file: string): Promise<number> {
  const cookies = await jarToNetscape(jar);
  await writeCookieFile(file, cookies);
  return cookies.length;
}

export interface StoredCookie {
  name: string;
  domain: string;
}

/**
 * Store the `Set-Cookie` headers of a response for `url`. Max-Age becomes an absolute expiry.
 * Returns what was stored and, for each rejected header, why (tough-cookie's reason).
 */
export async function storeSetCookies(
  jar: CookieJar,
  setCookies: readonly string[],
  url: string,
  now = new Date(),
): Promise<{ stored: StoredCookie[]; rejected: string[] }> {
  const stored: StoredCookie[] = [];
  const rejected: string[] = [];
  for (const header of setCookies) {
    const cookie = Cookie.parse(header, { loose: true });
    if (!cookie) {
      rejected.push(`unparsable Set-Cookie: ${cookieName(header)}`);
      continue;
    }
    // `Set-Cookie: token` (no '='): RFC 6265 ignores it, as curl does; its text is a value, not shown
    if (cookie.key === '') {
      rejected.push('a Set-Cookie without a name is ignored');
      continue;
    }
    if (typeof cookie.maxAge === 'number' || cookie.maxAge === '-Infinity') {
      const age = typeof cookie.maxAge === 'number' ? cookie.maxAge : -Infinity;
      cookie.expires = new Date(age <= 0 ? 0 : now.getTime() + age * 1000);
      cookie.maxAge = null;
    }
    const foreign = addressDomainRefused(cookie.domain, url);
    if (foreign !== undefined) {
      rejected.push(`${cookie.key}: ${foreign}`);
      continue;
    }
    try {
      const c = await jar.setCookie(cookie, url, { now });
      if (c) stored.push({ name: c.key, domain: c.domain ?? '' });
      else rejected.push(`${cookie.key}: not stored`);
    } catch (err) {
      rejected.push(`${cookie.key}: ${(err as Error).message}`);
    }
  }
  return { stored, rejected };
}

/**
 * Why a cookie from an IPv6 address is refused for its Domain attribute, if it is. An address has
 * no subdomains: Domain may only repeat it, written as the host is without brackets (`Domain=::1`
 * from `http://[::1]/`) — curl keeps exactly those and sends them back. tough-cookie also takes
 * `Domain=[::1]` or `Domain=0:0::1`, but keeps them under a domain that no request matches: stored,
 * saved to the file, never sent (Python's http.cookiejar does the same with `[::1]`). Refused here,
 * with the reason, as curl refuses them.
 */
function addressDomainRefused(domain: string | null | undefined, url: string): string | undefined {
  const host = new URL(url).hostname;
  if (!domain || !host.startsWith('[')) return undefined;
  const address = host.slice(1, -1);
  return domain.replace(/^\./, '').toLowerCase() === address
    ? undefined
    : `Domain=${domain} is not this host (an address cookie may only name it as Domain=${address})`;
}

/** The name of a Set-Cookie header, for messages; without '=' the text is a value and not shown. */
function cookieName(header: string): string {
  const pair = header.split(';')[0]!;
  const i = pair.indexOf('=');
  return i === -1 ? '(no name)' : pair.slice(0, i).trim();
}

/** The `Cookie` header value the jar has for `url` ('' when none). */
export async function cookieHeaderFor(jar: CookieJar, url: string): Promise<string> {
  return jar.getCookieString(url);
}
