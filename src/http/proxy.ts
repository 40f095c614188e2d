/**
 * HTTP proxies for the HTTP client and the downloader, found the way curl finds them:
 *
 * - `proxy` (the `--proxy URL` flag): `http://` or `https://`; a bare `host:port` means `http://`.
 *   `''` means no proxy, whatever the environment says. SOCKS is refused with a clear message:
 *   undici's SOCKS5 support is marked experimental, and through microsocks it failed outright.
 * - otherwise the environment: `http_proxy` for http:// URLs (lower case only, as in curl: under
 *   CGI a request header `Proxy:` becomes `HTTP_PROXY`, the "httpoxy" hole), `https_proxy` or
 *   `HTTPS_PROXY` for https:// URLs, `all_proxy` or `ALL_PROXY` for both.
 * - `noProxy` (`--noproxy LIST`), else `no_proxy` / `NO_PROXY`: comma-separated host names, each
 *   also matching its subdomains (`example.org`, `.example.org`), optionally `:port`; IP
 *   addresses (`::1` or `[::1]:8080`), which match only themselves; address blocks
 *   (`10.0.0.0/8`); `*` = all. A proxy given without a port is on 1080 (https://: 443), as in curl.
 *
 * http:// URLs go to an HTTP proxy as absolute-form requests (`GET http://host/path`, what curl
 * and browsers do); https:// URLs through a `CONNECT` tunnel, so TLS stays end to end and the
 * certificate checked is the origin's. Proxy credentials come from the proxy URL's user info
 * (Basic `Proxy-Authorization`) and are redacted wherever a proxy URL is shown.
 *
 * The routing is ours (undici's `EnvHttpProxyAgent` would also read the upper-case `HTTP_PROXY`
 * and keeps IPv6 brackets when matching `no_proxy`); undici's `ProxyAgent` does the proxying.
 */
import { BlockList, isIP } from 'node:net';
import type { Agent, buildConnector, Dispatcher } from 'undici';
import { NetkitError } from '../core/errors.js';
import { type CaCertificates, defaultTrust } from '../core/tls-trust.js';
import { redactUrl } from '../core/trace.js';
import { pausedEndConnector } from './paused-end.js';
import { undiciParts } from './undici-parts.js';

export interface ProxyOptions {
  /** Proxy for every URL (curl --proxy); '' = none, not even from the environment. */
  proxy?: string;
  /** Hosts reached directly (curl --noproxy): `a.example,.b.example,host:8080` or `*`. */
  noProxy?: string;
}

/** Where requests go: a proxy URL per scheme ('' = direct) and the exceptions. */
export interface ProxyRoute {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
}

const SCHEMES = new Set(['http:', 'https:']);

/** curl's default proxy ports: 1080 for an http:// proxy given without one, 443 for https://. */
const DEFAULT_PROXY_PORT: Record<string, string> = { 'http:': '1080', 'https:': '443' };

/**
 * A proxy URL as given, checked and completed: `host:port` means `http://host:port`, a missing
 * port is curl's default, a path is ignored (as curl ignores it). Throws NETKIT_INVALID_INPUT.
 */
export function normaliseProxyUrl(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  const shown = JSON.stringify(redactProxy(text));
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new NetkitError('NETKIT_INVALID_INPUT', `invalid proxy URL ${shown}`);
  }
  if (url.protocol.startsWith('socks')) {
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `SOCKS proxies are not supported (${shown}): use an HTTP proxy`,
    );
  }
  if (!SCHEMES.has(url.protocol) || !url.hostname) {
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `invalid proxy URL ${shown}: use http:// or https://HOST:PORT`,
    );
  }
  // URL drops a scheme's default port (`http://proxy:80` → `proxy`): only a port not written at all
  // gets curl's default
  const authority = withScheme.replace(/^[^:]+:\/\//, '').split(/[/?#]/)[0]!;
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const portWritten = /:\d+$/.test(hostPort.replace(/^\[[^\]]*\]/, ''));
  const port = url.port || (portWritten ? '' : DEFAULT_PROXY_PORT[url.protocol]!);
  const userinfo = url.username || url.password ? `${url.username}:${url.password}@` : '';
  return `${url.protocol}//${userinfo}${url.hostname}${port ? `:${port}` : ''}`;
}

/** The proxy URL with its password replaced by `***`, for traces and messages (scheme optional). */
export function redactProxy(text: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? redactUrl(text) : redactUrl(`x://${text}`).slice(4);
}

/**
 * Resolve flags and environment into a route; undefined when every request goes direct. The
 * proxy URLs are checked only when a request uses one, so a stray `all_proxy=socks://…` in the
 * environment does not stop requests to hosts in `no_proxy`.
 */
export function proxyRoute(
  opts: ProxyOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ProxyRoute | undefined {
  const pick = (...names: string[]) =>
    names.map((n) => env[n]).find((v) => v !== undefined && v !== '') ?? '';
  let httpProxy: string;
  let httpsProxy: string;
  if (opts.proxy !== undefined) {
    httpProxy = httpsProxy = opts.proxy;
  } else {
    const all = pick('all_proxy', 'ALL_PROXY');
    httpProxy = pick('http_proxy') || all;
    httpsProxy = pick('https_proxy', 'HTTPS_PROXY') || all;
  }
  if (!httpProxy && !httpsProxy) return undefined;
  const noProxy = (opts.noProxy ?? pick('no_proxy', 'NO_PROXY')).trim();
  if (noProxy === '*') return undefined;
  return { httpProxy, httpsProxy, noProxy };
}

/** One `no_proxy` entry: a name (and its subdomains), an IP address, or an address block. */
function bypasses(entry: string, host: string, port: number): boolean {
  let name = entry;
  let entryPort: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    name = bracketed[1]!;
    entryPort = bracketed[2] ? Number(bracketed[2]) : undefined;
  } else if (entry.split(':').length === 2) {
    // host:port (an IPv6 address has more colons, and no port unless bracketed)
    const [h, p] = entry.split(':') as [string, string];
    if (/^\d+$/.test(p)) {
      name = h;
      entryPort = Number(p);
    }
  }
  if (entryPort !== undefined && entryPort !== port) return false;
  name = name.replace(/^\*?\./, '').toLowerCase();
  const family = isIP(host);
  const slash = name.indexOf('/');
  if (slash !== -1) {
    // CIDR, as curl reads it: 192.168.0.0/16, fe80::/10
    const base = name.slice(0, slash);
    const bits = Number(name.slice(slash + 1));
    if (!family || isIP(base) !== family || !Number.isInteger(bits)) return false;
    const block = new BlockList();
    try {
      block.addSubnet(base, bits, family === 6 ? 'ipv6' : 'ipv4');
    } catch {
      return false;
    }
    return block.check(host, family === 6 ? 'ipv6' : 'ipv4');
  }
  // an address matches only itself; a name also matches its subdomains
  return family ? host === name : host === name || host.endsWith(`.${name}`);
}

/**
 * The proxy a request to `url` goes through under `route` (checked and completed by
 * {@link normaliseProxyUrl}, which throws for a bad one), or undefined when it goes direct.
 */
export function proxyFor(route: ProxyRoute | undefined, url: URL): string | undefined {
  if (!route) return undefined;
  const proxy = url.protocol === 'https:' ? route.httpsProxy : route.httpProxy;
  if (!proxy) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  for (const entry of route.noProxy.split(/[,\s]+/)) {
    if (entry && bypasses(entry, host, port)) return undefined;
  }
  return normaliseProxyUrl(proxy);
}

/**
 * undici's ProxyAgent opens the TLS connection to the target inside a CONNECT tunnel with a
 * connector it keeps under a private symbol, and offers no hook for it; wrapping that property is
 * the only way to see those sockets. Should a later undici rename it, requests still work, only
 * unwatched (the response version then reads 1.1), and the HTTP/2-through-a-proxy test fails.
 */
function wrapTunnelEndpoint(
  agent: object,
  wrap: (connector: buildConnector.connector) => buildConnector.connector,
): void {
  const key = Object.getOwnPropertySymbols(agent).find((s) => s.description === 'connect endpoint function');
  if (!key) return;
  const slots = agent as Record<symbol, buildConnector.connector>;
  if (typeof slots[key] === 'function') slots[key] = wrap(slots[key]);
}

/**
 * A dispatcher that sends each request through the proxy {@link proxyFor} names, or directly,
 * with `agentOptions` for every pool. The direct Agent is `direct` (for its connect events).
 * `insecure` also covers an https:// proxy's own certificate. With `agentOptions.allowH2`, ALPN
 * offers h2 to the target at the end of a CONNECT tunnel too (curl --http2 -x does the same).
 * `watch` wraps the connector of each kind of connection: `tunnel` the one that makes those TLS
 * connections (see {@link wrapTunnelEndpoint}), so the caller sees what ALPN chose and which
 * version answered; `direct` and `proxy` the others (to see the requests written on them).
 * Every connection it makes — direct, to the proxy, at the end of a tunnel — gets
 * {@link pausedEndConnector}: a slow reader must survive a server or proxy that closes after the
 * response on each of those paths.
 */
export function proxyDispatcher(
  route: ProxyRoute,
  agentOptions: Agent.Options,
  tls: { insecure?: boolean; ca?: CaCertificates },
  watch?: (
    connector: buildConnector.connector,
    kind: 'direct' | 'proxy' | 'tunnel',
  ) => buildConnector.connector,
): Dispatcher & { direct: Agent } {
  const undici = undiciParts();
  // the target's certificate, checked at the end of the tunnel, against --cacert when given
  const requestTls = {
    ...defaultTrust(tls.ca),
    rejectUnauthorized: !tls.insecure,
    ...(agentOptions.allowH2 ? { allowH2: true } : {}),
  };
  const proxyTls = { ...defaultTrust(), rejectUnauthorized: !tls.insecure };

  const { connect: connectOptions, ...poolOptions } = agentOptions;
  const watched = (connector: buildConnector.connector, kind: 'direct' | 'proxy' | 'tunnel') =>
    pausedEndConnector(watch ? watch(connector, kind) : connector);
  const tunnelEnd = (connector: buildConnector.connector) => watched(connector, 'tunnel');

  class ProxyRouter extends undici.Dispatcher {
    readonly direct = new undici.Agent({
      ...poolOptions,
      connect: watched(
        typeof connectOptions === 'function' ? connectOptions : undici.buildConnector(connectOptions ?? {}),
        'direct',
      ),
    });
    private readonly proxies = new Map<string, Dispatcher>();

    private pick(origin: string): Dispatcher {
      const proxy = proxyFor(route, new URL(origin));
      if (!proxy) return this.direct;
      let agent = this.proxies.get(proxy);
      if (!agent) {
        const proxyHref = new URL(proxy).href;
        agent = new undici.ProxyAgent({
          ...agentOptions,
          uri: proxy,
          // http:// URLs as absolute-form requests to the proxy, not CONNECT tunnels (like curl)
          proxyTunnel: false,
          requestTls,
          proxyTls,
          // the client that opens CONNECT tunnels (https:// targets): its requests are watched too
          clientFactory: (origin, options) => {
            const { connect } = options as { connect?: unknown };
            return new undici.Pool(
              origin,
              watch && typeof connect === 'function'
                ? { ...options, connect: watch(connect as buildConnector.connector, 'proxy') }
                : options,
            );
          },
          // the pool of connections to the proxy that carry those requests: undici gives it only a
          // connector; ours also gets the response limits and timeouts of a direct request
          factory: (origin, options) => {
            const { connect } = options as { connect?: unknown };
            return String(origin) === proxyHref && typeof connect === 'function'
              ? new undici.Pool(origin, {
                  ...poolOptions,
                  connect: watched(connect as buildConnector.connector, 'proxy'),
                })
              : new undici.Pool(origin, options);
          },
        });
        wrapTunnelEndpoint(agent, tunnelEnd);
        this.proxies.set(proxy, agent);
      }
      return agent;
    }

    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      return this.pick(String(options.origin)).dispatch(options, handler);
    }

    override close(): Promise<void>;
    override close(callback: () => void): void;
    override close(callback?: () => void): Promise<void> | void {
      const done = Promise.all([this.direct, ...this.proxies.values()].map((d) => d.close())).then(() => {});
      if (!callback) return done;
      void done.then(callback, callback);
    }

    override destroy(): Promise<void>;
    override destroy(err: Error | null): Promise<void>;
    override destroy(callback: () => void): void;
    override destroy(err: Error | null, callback: () => void): void;
    override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
      const err = typeof a === 'function' ? null : (a ?? null);
      const callback = typeof a === 'function' ? a : b;
      const done = Promise.all([this.direct, ...this.proxies.values()].map((d) => d.destroy(err))).then(
        () => {},
      );
      if (!callback) return done;
      void done.then(callback, callback);
    }
  }
  return new ProxyRouter();
}
