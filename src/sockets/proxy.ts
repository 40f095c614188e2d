/**
 * `tcp connect --proxy URL` (ncat `--proxy`/`--proxy-type`/`--proxy-auth`): parse the proxy URL
 * and run the tunnel handshake on a socket already connected to the proxy. The protocols are the
 * pure state machines in `proxy-http.ts` (HTTP CONNECT) and `proxy-socks.ts` (SOCKS5/4/4a); this
 * module feeds them the socket's bytes, traces the exchange (never the password), and hands back
 * the bytes the proxy sent past its answer, which `tcpConnect` puts back on the socket.
 *
 * Schemes: `http://` (default port 3128, as ncat), `socks5://` (1080; the target name is resolved
 * here, as curl does), `socks5h://` (the proxy resolves it), `socks4://` (resolved here, IPv4
 * only) and `socks4a://` (the proxy resolves). A bare `host:port` takes the given default type.
 * No environment variable (`http_proxy`, `all_proxy`) is ever read: ncat reads none either.
 */
import dns from 'node:dns/promises';
import type { EventEmitter } from 'node:events';
import net from 'node:net';
import { NetkitError } from '../core/errors.js';
import { formatHostPort } from '../core/server.js';
import { traceEvent } from '../core/trace.js';
import { authority, HttpConnectReader, httpConnectRequest, type ProxyCredentials } from './proxy-http.js';
import { Socks4Handshake, Socks5Handshake, type SocksStep } from './proxy-socks.js';

export type ProxyType = 'http' | 'socks4' | 'socks4a' | 'socks5' | 'socks5h';

export interface ProxySpec {
  type: ProxyType;
  host: string;
  port: number;
  auth?: ProxyCredentials;
}

export const PROXY_TYPES: readonly ProxyType[] = ['http', 'socks4', 'socks4a', 'socks5', 'socks5h'];
/** ncat's defaults: 3128 for HTTP proxies, 1080 for SOCKS. */
export const DEFAULT_PROXY_PORTS: Record<ProxyType, number> = {
  http: 3128,
  socks4: 1080,
  socks4a: 1080,
  socks5: 1080,
  socks5h: 1080,
};

/** `user:pass` (ncat `--proxy-auth`); the password may contain `:`. */
export function parseProxyAuth(text: string): ProxyCredentials {
  const i = text.indexOf(':');
  if (i <= 0) throw new NetkitError('NETKIT_USAGE', 'proxy credentials must be USER:PASSWORD');
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

/**
 * `socks5h://user:pass@host:port`, or a bare `host:port` of type `defaultType`. User info is
 * percent-decoded (`p%40ss` is `p@ss`). Throws NETKIT_USAGE for anything else.
 */
export function parseProxyUrl(text: string, defaultType: ProxyType = 'http'): ProxySpec {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  const shown = JSON.stringify(redactProxyText(text));
  let url: URL;
  try {
    url = new URL(hasScheme ? text : `${defaultType}://${text}`);
  } catch {
    throw new NetkitError('NETKIT_USAGE', `invalid proxy URL ${shown}`);
  }
  const type = url.protocol.slice(0, -1).toLowerCase() as ProxyType;
  if (!PROXY_TYPES.includes(type))
    throw new NetkitError(
      'NETKIT_USAGE',
      `unsupported proxy scheme "${url.protocol}" in ${shown} (use http://, socks5://, socks5h://, socks4:// or socks4a://)`,
    );
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash)
    throw new NetkitError('NETKIT_USAGE', `a proxy URL has no path or query: ${shown}`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new NetkitError('NETKIT_USAGE', `no host in proxy URL ${shown}`);
  const spec: ProxySpec = { type, host, port: url.port ? Number(url.port) : DEFAULT_PROXY_PORTS[type] };
  if (url.username || url.password) {
    try {
      spec.auth = {
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
      };
    } catch {
      throw new NetkitError('NETKIT_USAGE', `bad percent-encoding in the user info of ${shown}`);
    }
  }
  return spec;
}

/** The password of any `scheme://user:pass@` in a text, hidden (for errors and traces). */
function redactProxyText(text: string): string {
  return text.replace(/^((?:[a-z][a-z0-9+.-]*:\/\/)?[^/\s:@]*):[^/\s]*@/i, '$1:****@');
}

/** `socks5h://alice:****@127.0.0.1:1080`: the proxy as shown to the user (password hidden). */
export function describeProxy(spec: ProxySpec): string {
  const user = spec.auth ? `${encodeURIComponent(spec.auth.username)}:****@` : '';
  return `${spec.type}://${user}${authority(spec.host, spec.port)}`;
}

/** `HTTP proxy 127.0.0.1:3128`, `SOCKS5 proxy [::1]:1080`: how errors name the proxy. */
export function proxyName(spec: ProxySpec): string {
  const kind = spec.type === 'http' ? 'HTTP' : spec.type.startsWith('socks5') ? 'SOCKS5' : 'SOCKS4';
  return `${kind} proxy ${formatHostPort(spec.host, spec.port)}`;
}

export interface ProxyHandshakeOptions {
  /** resolve the target for `socks5://`/`socks4://` in this family */
  family?: 4 | 6;
  /** cap on the HTTP response head (default 16 KiB) */
  maxHeadBytes?: number;
  /** where trace events go */
  tracer?: EventEmitter;
  /** service name in trace events (default `tcp`) */
  service?: string;
  /** connection id in trace events */
  conn?: number;
}

export interface ProxyTunnel {
  /** bytes the proxy sent past its answer: the first bytes from the target */
  rest: Buffer;
  /** what the proxy reports: the HTTP status line, or the SOCKS bound address */
  detail: string;
}

/** Resolve the target here (socks5://, socks4://): one address of the wanted family. */
async function resolveTarget(host: string, spec: ProxySpec, family?: 4 | 6): Promise<string> {
  if (net.isIP(host)) return host;
  const fam = spec.type === 'socks4' ? 4 : family;
  try {
    const { address } = await dns.lookup(host, fam ? { family: fam } : {});
    return address;
  } catch (err) {
    throw new NetkitError('NETKIT_NOT_FOUND', `cannot resolve host "${host}"${fam ? ` (IPv${fam})` : ''}`, {
      cause: err,
    });
  }
}

/**
 * Open the tunnel to `host:port` over `socket` (connected to the proxy). Resolves when the proxy
 * says the tunnel is open; rejects with a one-line `NetkitError` (and destroys nothing: the caller
 * owns the socket and the timeout). Reads with `'readable'`/`read()` so that, once done, the
 * socket is back in its initial mode and a later `'data'` listener gets every byte.
 */
export async function proxyHandshake(
  socket: net.Socket,
  spec: ProxySpec,
  host: string,
  port: number,
  options: ProxyHandshakeOptions = {},
): Promise<ProxyTunnel> {
  const { tracer } = options;
  const service = options.service ?? 'tcp';
  const conn = options.conn ?? 0;
  const trace = (kind: 'in' | 'out' | 'info', text: string) => {
    if (tracer) traceEvent(tracer, service, conn, kind, text);
  };
  const name = proxyName(spec);
  const target = authority(host, port);

  type Machine = { start(): SocksStep; push(chunk: Buffer): SocksStep; closed(): NetkitError };
  let machine: Machine;
  if (spec.type === 'http') {
    const reader = new HttpConnectReader({
      proxyName: name,
      target,
      withCredentials: spec.auth !== undefined,
      maxHeadBytes: options.maxHeadBytes,
    });
    const request = httpConnectRequest(host, port, spec.auth);
    machine = {
      start: () => ({ send: request, notes: [] }),
      push(chunk) {
        const response = reader.push(chunk);
        for (const line of reader.interim.splice(0)) trace('in', line);
        if (!response) return { notes: [] };
        trace('in', response.statusLine);
        for (const h of response.headers) trace('in', h);
        return { done: { rest: response.rest, bound: response.statusLine }, notes: [] };
      },
      closed: () => reader.closed(),
    };
    for (const line of request.toString('latin1').split('\r\n').filter(Boolean))
      trace('out', line.replace(/^(Proxy-Authorization: \S+) .*$/i, '$1 ****'));
  } else {
    const resolveHere = spec.type === 'socks5' || spec.type === 'socks4';
    const dest = resolveHere ? await resolveTarget(host, spec, options.family) : host;
    if (dest !== host) trace('info', `resolved ${host} to ${dest} (the proxy gets the address)`);
    const opts = { proxyName: name, auth: spec.auth };
    machine = spec.type.startsWith('socks5')
      ? new Socks5Handshake(dest, port, opts)
      : new Socks4Handshake(dest, port, opts);
  }

  return new Promise<ProxyTunnel>((resolve, reject) => {
    let settled = false;
    const cleanup = () => {
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(err);
    };
    const apply = (step: SocksStep): boolean => {
      for (const note of step.notes) trace('info', note);
      if (step.send) socket.write(step.send);
      if (!step.done) return false;
      settled = true;
      cleanup();
      resolve({ rest: Buffer.from(step.done.rest), detail: step.done.bound });
      return true;
    };
    const onReadable = () => {
      try {
        for (
          let chunk = socket.read() as Buffer | null;
          chunk !== null;
          chunk = socket.read() as Buffer | null
        ) {
          if (settled) return;
          if (apply(machine.push(chunk))) return;
        }
      } catch (err) {
        fail(err as Error);
      }
    };
    const onEnd = () => fail(machine.closed());
    const onError = (err: NodeJS.ErrnoException) =>
      fail(
        new NetkitError(
          'NETKIT_IO',
          `${name}: ${err.code === 'ECONNRESET' ? 'connection reset during the handshake' : err.message}`,
          { cause: err },
        ),
      );
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    try {
      apply(machine.start());
    } catch (err) {
      fail(err as Error);
    }
  });
}
