/**
 * The downloader's direct connections (no proxy), on Node's own `http`/`https` clients.
 *
 * Why not undici here, as everywhere else in `netkit http`: a download is one short-lived
 * process, and its start-up is part of its wall time. Loading undici's Agent and request API
 * costs ~45 ms of CPU (36 modules compiled from source, ~70 more built-ins) and its WebAssembly
 * parser is compiled on the first connection; Node's client is in the executable's code cache
 * (~4 ms) and parses with the native llhttp. Against nginx's `limit_rate` this start-up is most
 * of what separates a download from the physical limit (bench/download.mjs). The price: Node's
 * parser copies every body chunk, ~0.2 s more CPU per GiB than undici on loopback (measured 1.5–1.8×
 * curl's CPU instead of 1.0–1.5×; the target is 2×), which no real network link makes a
 * bottleneck. Proxied downloads
 * keep undici's ProxyAgent (src/http/proxy.ts): tunnels and absolute-form requests are its job.
 *
 * The surface is the one the downloader uses: `request()` resolving to status, headers and a
 * readable body with `dump()`, and `destroy()`.
 */
import type { ClientRequest, Agent as HttpAgent, IncomingMessage } from 'node:http';
import http from 'node:http';
import type { Agent as HttpsAgent } from 'node:https';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { type CaCertificates, defaultTrust } from '../../core/tls-trust.js';

export type ResponseHeaders = Record<string, string | string[] | undefined>;

/** A response body: a readable stream that can also be drained and dropped. */
export type ResponseBody = Readable & { dump(): Promise<void> };

export interface TransportResponse {
  statusCode: number;
  headers: ResponseHeaders;
  body: ResponseBody;
}

export interface TransportRequest {
  origin: string;
  path: string;
  method: string;
  headers: Record<string, string>;
  signal?: AbortSignal;
}

/** What the downloader needs from a connection pool (undici's Dispatcher has the same shape). */
export interface Transport {
  request(req: TransportRequest): Promise<TransportResponse>;
  destroy(): Promise<void>;
}

export interface NodeTransportOptions {
  /** keep-alive connections per origin */
  connections: number;
  /** no bytes for this long (connecting, waiting for headers, or mid-body): the request fails */
  timeoutMs: number;
  /** largest response head accepted */
  maxHeaderSize: number;
  /** verify TLS certificates (default true) */
  rejectUnauthorized?: boolean;
  /** trust only these CA certificates instead of the system's */
  ca?: CaCertificates;
}

/** Node's http(s) keep-alive agents behind the downloader's {@link Transport} surface. */
export class NodeTransport implements Transport {
  private readonly opts: NodeTransportOptions;
  private httpAgent?: HttpAgent;
  private httpsAgent?: HttpsAgent;
  private httpsModule?: typeof import('node:https');

  constructor(opts: NodeTransportOptions) {
    this.opts = opts;
  }

  private client(protocol: string): { request: typeof http.request; agent: HttpAgent } {
    if (protocol === 'https:') {
      // loaded on first use: TLS costs start-up that plain-http downloads never need
      this.httpsModule ??= createRequire(import.meta.url)('node:https') as typeof import('node:https');
      this.httpsAgent ??= new this.httpsModule.Agent({
        ...defaultTrust(this.opts.ca),
        keepAlive: true,
        maxSockets: this.opts.connections,
        rejectUnauthorized: this.opts.rejectUnauthorized ?? true,
      });
      return { request: this.httpsModule.request, agent: this.httpsAgent };
    }
    this.httpAgent ??= new http.Agent({ keepAlive: true, maxSockets: this.opts.connections });
    return { request: http.request, agent: this.httpAgent };
  }

  request(req: TransportRequest): Promise<TransportResponse> {
    return new Promise<TransportResponse>((resolve, reject) => {
      const u = new URL(req.origin);
      const { request, agent } = this.client(u.protocol);
      let cr: ClientRequest;
      try {
        cr = request({
          agent,
          protocol: u.protocol,
          // an IPv6 literal without its brackets; Node adds them back in the Host header
          hostname: u.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: u.port || undefined,
          path: req.path,
          method: req.method,
          headers: req.headers,
          maxHeaderSize: this.opts.maxHeaderSize,
          ...(req.signal ? { signal: req.signal } : {}),
        });
      } catch (err) {
        // an invalid header name or value is refused before anything is sent
        reject(err);
        return;
      }
      let response: IncomingMessage | undefined;
      cr.setTimeout(this.opts.timeoutMs, () => {
        const err = new Error(`no data from ${u.host} for ${this.opts.timeoutMs / 1000} s`);
        // mid-body, the reader of the response must see this reason, not Node's bare "aborted"
        response?.destroy(err);
        cr.destroy(err);
      });
      cr.on('error', reject);
      cr.on('response', (res: IncomingMessage) => {
        response = res;
        resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: withDump(res) });
      });
      cr.end();
    });
  }

  destroy(): Promise<void> {
    this.httpAgent?.destroy();
    this.httpsAgent?.destroy();
    return Promise.resolve();
  }
}

/** Add `dump()`: read the body to its end (keeping the connection reusable) and drop it. */
function withDump(res: IncomingMessage): ResponseBody {
  const body = res as IncomingMessage & { dump(): Promise<void> };
  body.dump = () =>
    new Promise<void>((resolve) => {
      // `complete` is not enough: a HEAD answer is complete at once, but Node hands its
      // connection back to the agent only at 'end', which comes once the body is read
      if (res.readableEnded || res.destroyed) {
        resolve();
        return;
      }
      res.once('end', () => resolve());
      res.once('close', () => resolve());
      res.once('error', () => resolve());
      res.resume();
    });
  return body;
}
