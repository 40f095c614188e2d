/**
 * When a request's phases happened, as curl's `-w` reports them (`time_namelookup`,
 * `time_connect`, `time_appconnect`, `time_pretransfer`, `time_starttransfer`, `time_redirect`),
 * and which addresses the connection had (`remote_ip`, `local_port` …). undici reports neither, so
 * the client's connector is wrapped: every socket it makes is recorded with the moments its name
 * was looked up, its TCP connection made and its TLS handshake done. A request then finds the
 * connection it used among the records (a new one made for its origin after it started, or else
 * the newest one of that origin: a reused keep-alive connection, whose set-up cost this request
 * nothing).
 *
 * Times are `performance.now()` milliseconds. {@link addHop} sums them per hop from the hop's own
 * start, as libcurl does (its phase timers are added up over redirects; `time_redirect` is when the
 * last redirect was followed, from the very start).
 */
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';

/** One connection the client's connector made. */
export interface ConnectionRecord {
  /** `http://host:port` */
  origin: string;
  /** when the connector was asked for it */
  startedAt: number;
  /** the name resolved (undefined for an address literal: no lookup) */
  lookupAt?: number;
  /** TCP connected */
  connectAt?: number;
  /** ready for the request: TCP connected, and for https the TLS handshake done */
  readyAt?: number;
  remoteAddress?: string;
  remotePort?: number;
  localAddress?: string;
  localPort?: number;
  /** the socket, for the bytes written on it (curl's `size_request`) */
  socket?: Socket;
}

/** The addresses of a connection (curl's `remote_ip`, `remote_port`, `local_ip`, `local_port`). */
export interface ConnectionInfo {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

/**
 * The phases of a request, redirects included, in milliseconds (curl reports the same in seconds):
 * each phase is summed over the hops, from each hop's start; `redirectMs` runs from the start of
 * the first hop to the start of the last one (0 without redirects).
 */
export interface HttpTimings {
  /** `performance.now()` when the request began: a body's end is measured against it (`time_total`) */
  start: number;
  namelookupMs: number;
  connectMs: number;
  /** TLS handshake done (0 for http://) */
  appconnectMs: number;
  /** about to send the request */
  pretransferMs: number;
  /** the response's status line and headers arrived */
  starttransferMs: number;
  redirectMs: number;
}

export function emptyTimings(start: number): HttpTimings {
  return {
    start,
    namelookupMs: 0,
    connectMs: 0,
    appconnectMs: 0,
    pretransferMs: 0,
    starttransferMs: 0,
    redirectMs: 0,
  };
}

/**
 * `connector` with every socket it makes recorded (`onConnection` gets the record at once; its
 * fields are filled in as the connection proceeds).
 */
export function timingConnector(
  connector: buildConnector.connector,
  onConnection: (record: ConnectionRecord) => void,
): buildConnector.connector {
  return (options, callback) => {
    const host = options.host ?? `${options.hostname}${options.port ? `:${options.port}` : ''}`;
    const record: ConnectionRecord = { origin: `${options.protocol}//${host}`, startedAt: performance.now() };
    onConnection(record);
    // undici's connector returns its socket (typed void): the lookup and TCP connect are watched on it
    const made = (connector as (...args: Parameters<buildConnector.connector>) => unknown)(
      options,
      (...args) => {
        const socket = args[1] as Socket | null;
        if (socket) {
          record.readyAt = performance.now();
          record.connectAt ??= record.readyAt;
          record.remoteAddress = socket.remoteAddress;
          record.remotePort = socket.remotePort;
          record.localAddress = socket.localAddress;
          record.localPort = socket.localPort;
          record.socket = socket;
        }
        callback(...args);
      },
    );
    const socket = made as Partial<Socket> | undefined;
    if (socket && typeof socket.once === 'function') {
      socket.once('lookup', () => {
        record.lookupAt = performance.now();
      });
      socket.once('connect', () => {
        record.connectAt ??= performance.now(); // undici's own listener may have run the callback first
      });
    }
  };
}

/** The connection a hop that began at `hopStart` used, and whether it was made for it. */
export function connectionFor(
  records: readonly ConnectionRecord[],
  origin: string,
  hopStart: number,
): { record: ConnectionRecord; fresh: boolean } | undefined {
  const fresh = records.find(
    (r) => r.origin === origin && r.startedAt >= hopStart && r.readyAt !== undefined,
  );
  if (fresh) return { record: fresh, fresh: true };
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (r.origin === origin && r.readyAt !== undefined) return { record: r, fresh: false };
  }
  return undefined;
}

export function connectionInfo(record: ConnectionRecord | undefined): ConnectionInfo | undefined {
  if (record?.remoteAddress === undefined) return undefined;
  return {
    remoteAddress: record.remoteAddress,
    remotePort: record.remotePort ?? 0,
    localAddress: record.localAddress ?? '',
    localPort: record.localPort ?? 0,
  };
}

/**
 * Add one hop to `timings`: it began at `hopStart`, its headers arrived at `headersAt`, over
 * `used` (a fresh connection's set-up counts; a reused one's does not, as in curl, where those
 * phases take a microsecond). A redirect hop also sets `redirectMs` to when the next hop starts.
 */
export function addHop(
  timings: HttpTimings,
  hopStart: number,
  headersAt: number,
  used: { record: ConnectionRecord; fresh: boolean } | undefined,
  https: boolean,
): void {
  const since = (t: number | undefined) => Math.max(0, (t ?? hopStart) - hopStart);
  const r = used?.fresh ? used.record : undefined;
  const ready = r ? since(r.readyAt) : 0;
  timings.namelookupMs += r ? since(r.lookupAt ?? r.startedAt) : 0;
  timings.connectMs += r ? since(r.connectAt ?? r.readyAt) : 0;
  timings.appconnectMs += https ? ready : 0;
  timings.pretransferMs += ready;
  timings.starttransferMs += since(headersAt);
}
