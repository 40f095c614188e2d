/**
 * The classic Internet services of inetd, each over TCP and UDP on the same port:
 * echo (RFC 862), discard (RFC 863), chargen (RFC 864), qotd (RFC 865), daytime (RFC 867) and
 * time (RFC 868). They are the smallest complete servers there are, which is why the course uses
 * them, and they still make good test peers.
 *
 * Safety: echo pipes with backpressure (a client that sends without reading stalls its own
 * connection, not our memory); chargen writes until `write()` returns false and waits for
 * `'drain'`, so a client that never reads costs one socket buffer; TCP connections are limited in
 * total and per IP by the core listener and closed after an idle time. UDP replies are bounded
 * (chargen and qotd ≤ 512 bytes, as the RFCs ask), and everything binds to loopback by default:
 * UDP chargen on a public address is a classic amplification reflector.
 */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { NetkitError } from '../core/errors.js';
import type { TypedEmitter } from '../core/events.js';
import { formatHostPort, type ListenAddress, listenTcp, type TcpServerHandle } from '../core/server.js';
import { nextConnId, type TraceEvents, traceEvent } from '../core/trace.js';
import { describeBytes } from './bytes.js';
import { echoSocket } from './tcp.js';
import { bindUdp, type Datagram, type UdpListener } from './udp.js';
import { refusalWords, UdpReplyGuard } from './udp-guard.js';

export type ClassicServiceName = 'echo' | 'discard' | 'daytime' | 'qotd' | 'chargen' | 'time';

/** The standard port of each service (the CLI adds `--port-base`, 7000 by default). */
export const CLASSIC_PORTS: Readonly<Record<ClassicServiceName, number>> = {
  echo: 7,
  discard: 9,
  daytime: 13,
  qotd: 17,
  chargen: 19,
  time: 37,
};

export const CLASSIC_SERVICES = Object.keys(CLASSIC_PORTS) as ClassicServiceName[];

export function isClassicService(name: string): name is ClassicServiceName {
  return Object.hasOwn(CLASSIC_PORTS, name);
}

export const DEFAULT_QUOTES: readonly string[] = [
  'Be conservative in what you do, be liberal in what you accept from others. - Jon Postel, RFC 793',
  'We reject kings, presidents and voting. We believe in rough consensus and running code. - David Clark',
  'Never underestimate the bandwidth of a station wagon full of tapes hurtling down the highway. - Andrew S. Tanenbaum',
  "A distributed system is one in which the failure of a computer you didn't even know existed can render your own computer unusable. - Leslie Lamport",
  'The network is the computer. - John Gage',
  'There are only two hard things in Computer Science: cache invalidation and naming things. - Phil Karlton',
];

/** RFC 865: the message "should be … less than 512 characters": the reply as sent, CRLFs included. */
export const MAX_QOTD_REPLY_BYTES = 511;
/** RFC 864: a UDP chargen reply carries a random number of characters between 0 and 512. */
export const MAX_UDP_CHARGEN = 512;
/** Seconds between 1900-01-01 (RFC 868's epoch) and 1970-01-01. */
export const RFC868_OFFSET = 2_208_988_800;
export const DEFAULT_SERVICE_IDLE_MS = 300_000;

/**
 * Parse a quotes file: quotes are separated by blank lines (or a line holding only `%`, as in
 * fortune files). Each quote must fit the RFC 865 limit.
 */
export function parseQuotes(text: string): string[] {
  const quotes = text
    .replace(/\r\n?/g, '\n')
    .split(/\n(?:[ \t]*%?[ \t]*\n)+/)
    .map((q) => q.trim())
    .filter((q) => q.length > 0 && q !== '%');
  if (!quotes.length) throw new NetkitError('NETKIT_INVALID_INPUT', 'the quotes file has no quotes');
  checkQuotes(quotes);
  return quotes;
}

/** A quote as it goes on the wire: every line ended by CRLF. */
export function qotdReply(quote: string): Buffer {
  return Buffer.from(`${quote.replace(/\r?\n/g, '\r\n')}\r\n`);
}

/** Refuse a quote whose reply, as sent (CRLF line ends), is not under 512 bytes. */
export function checkQuotes(quotes: readonly string[]): void {
  quotes.forEach((q, i) => {
    const size = qotdReply(q).length;
    if (size > MAX_QOTD_REPLY_BYTES) {
      throw new NetkitError(
        'NETKIT_TOO_LARGE',
        `quote ${i + 1} is ${size} bytes as sent (with CRLF line ends); RFC 865 asks for under 512`,
      );
    }
  });
}

const RING = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

/** Line `n` of the chargen pattern: 72 characters of the printable-ASCII ring starting at `n mod 95`. */
export function chargenLine(n: number): string {
  const start = n % 95;
  return (RING + RING).slice(start, start + 72);
}

/** One full cycle of the pattern (95 lines of 72 characters + CRLF), written as one chunk. */
export const CHARGEN_CYCLE: Buffer = Buffer.from(
  Array.from({ length: 95 }, (_, i) => `${chargenLine(i)}\r\n`).join(''),
  'latin1',
);

/** RFC 867 suggests `Weekday, Month Day, Year Time-Zone`; we give it in UTC. */
export function daytimeString(date: Date): string {
  const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const months = [
    'January',
    'February',
    'March',
    'April',
    'May',
    'June',
    'July',
    'August',
    'September',
    'October',
    'November',
    'December',
  ];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[date.getUTCDay()]}, ${months[date.getUTCMonth()]} ${date.getUTCDate()}, ${date.getUTCFullYear()} ${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())}-UTC`;
}

/** RFC 868: seconds since 1900-01-01 00:00 UTC as a 32-bit big-endian number (wraps in 2036). */
export function timeBytes(date: Date): Buffer {
  const secs = Math.floor(date.getTime() / 1000) + RFC868_OFFSET;
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(((secs % 2 ** 32) + 2 ** 32) % 2 ** 32);
  return buf;
}

/**
 * Decode an RFC 868 reply. The 32-bit count wraps on 2036-02-07 06:28:16 UTC; a value that would
 * mean a date before 1970 is read as the next era (2036–2106): no time server answered before 1970,
 * so that pivot is unambiguous for 136 years (the rule NTP's era handling and rdate use).
 */
export function parseTimeBytes(buf: Buffer): Date {
  if (buf.length !== 4)
    throw new NetkitError('NETKIT_PROTOCOL', `time reply must be 4 bytes, got ${buf.length}`);
  const value = buf.readUInt32BE(0);
  const secs = value >= RFC868_OFFSET ? value - RFC868_OFFSET : value + 2 ** 32 - RFC868_OFFSET;
  return new Date(secs * 1000);
}

export interface ClassicServiceOptions {
  /** address to bind (default 127.0.0.1) */
  host?: string;
  /** exact port for TCP and UDP; 0 = any free port (the same one for both when possible) */
  port?: number;
  /** when `port` is not given: listen on `portBase + standard port` */
  portBase?: number;
  /** serve over TCP (default true) */
  tcp?: boolean;
  /** serve over UDP (default true) */
  udp?: boolean;
  /** quotes for qotd (default: a built-in list) */
  quotes?: readonly string[];
  /** simultaneous TCP connections (default 1000) */
  maxConnections?: number;
  /** simultaneous TCP connections from one client address (default 100) */
  maxConnectionsPerIp?: number;
  /** close TCP connections idle this long (ms, default 5 min, 0 = never) */
  idleTimeoutMs?: number;
  /** the clock (tests) */
  now?: () => Date;
  /** a random source in [0, 1) for UDP chargen lengths (tests) */
  random?: () => number;
  /** UDP replies per second to one source IP, as a burst too (default 64; see `udp-guard.ts`) */
  udpRepliesPerIp?: number;
}

/** The lab's default port base: its services' ports are loop partners too (see `udp-guard.ts`). */
const DEFAULT_PORT_BASE = 7000;

/** A running classic service; emits `'trace'`. */
export interface ClassicServiceHandle extends TypedEmitter<TraceEvents> {
  readonly service: ClassicServiceName;
  readonly tcp?: ListenAddress;
  readonly udp?: ListenAddress;
  /** live TCP connections */
  readonly connections: number;
  /** live TCP connections and the bytes queued in user space for them (bounded by backpressure) */
  stats(): { connections: number; queuedBytes: number };
  close(deadlineMs?: number): Promise<void>;
}

/** Shared state of one service: the quote cursor and chargen offset survive across clients. */
class Responder {
  private quoteIndex = 0;
  private chargenOffset = 0;
  constructor(
    readonly service: ClassicServiceName,
    private readonly quotes: readonly string[],
    private readonly now: () => Date,
    private readonly random: () => number,
  ) {}

  nextQuote(): Buffer {
    const q = this.quotes[this.quoteIndex % this.quotes.length]!;
    this.quoteIndex = (this.quoteIndex + 1) % this.quotes.length;
    return qotdReply(q);
  }

  /** The reply to one datagram (undefined: no reply). */
  udpReply(request: Buffer): Buffer | undefined {
    switch (this.service) {
      case 'echo':
        return request;
      case 'discard':
        return undefined;
      case 'daytime':
        return Buffer.from(`${daytimeString(this.now())}\r\n`);
      case 'time':
        return timeBytes(this.now());
      case 'qotd':
        return this.nextQuote();
      case 'chargen': {
        const len = Math.floor(this.random() * (MAX_UDP_CHARGEN + 1));
        const lineLen = 74;
        const start = (this.chargenOffset % 95) * lineLen;
        this.chargenOffset = (this.chargenOffset + 1) % 95;
        const out = Buffer.alloc(len);
        for (let i = 0; i < len; i++) out[i] = CHARGEN_CYCLE[(start + i) % CHARGEN_CYCLE.length]!;
        return out;
      }
    }
  }

  /** The one-shot TCP reply of daytime, qotd and time. */
  tcpReply(): Buffer {
    if (this.service === 'daytime') return Buffer.from(`${daytimeString(this.now())}\r\n`);
    if (this.service === 'time') return timeBytes(this.now());
    return this.nextQuote();
  }
}

/**
 * Write the chargen pattern until the socket's buffer is full, then wait for `'drain'`: the
 * queue never holds more than the high-water mark plus one cycle (7,030 bytes).
 */
function chargenTcp(socket: net.Socket, onBytes: (n: number) => void): void {
  const pump = (): void => {
    while (socket.writable && !socket.destroyed) {
      onBytes(CHARGEN_CYCLE.length);
      if (!socket.write(CHARGEN_CYCLE)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

async function bindBoth(
  service: ClassicServiceName,
  options: ClassicServiceOptions,
  port: number,
  onTcp: ((socket: net.Socket) => void) | undefined,
  wantUdp: boolean,
): Promise<{ tcp?: TcpServerHandle; udp?: UdpListener }> {
  const tcpOpts = {
    service,
    host: options.host,
    maxConnections: options.maxConnections,
    maxConnectionsPerIp: options.maxConnectionsPerIp,
  };
  if (!wantUdp) return { tcp: await listenTcp({ ...tcpOpts, port, onConnection: onTcp! }) };
  if (!onTcp) return { udp: await bindUdp({ host: options.host, port, service }) };
  // with port 0, try to get one number for both transports, as with a fixed port
  for (let attempt = 0; ; attempt++) {
    const tcp = await listenTcp({ ...tcpOpts, port, onConnection: onTcp });
    try {
      const udp = await bindUdp({ host: options.host, port: tcp.port, service });
      return { tcp, udp };
    } catch (err) {
      if (port !== 0 || attempt >= 4) {
        if (port !== 0) {
          await tcp.close(0);
          throw err;
        }
        return { tcp, udp: await bindUdp({ host: options.host, port: 0, service }) };
      }
      await tcp.close(0);
    }
  }
}

/**
 * Start one classic service over TCP and UDP. Port: `port` if given, else `portBase + standard`
 * if `portBase` is given, else any free port.
 */
export async function startService(
  name: ClassicServiceName | string,
  options: ClassicServiceOptions = {},
): Promise<ClassicServiceHandle> {
  if (!isClassicService(name)) {
    throw new NetkitError(
      'NETKIT_USAGE',
      `unknown service "${name}" (choose from ${CLASSIC_SERVICES.join(', ')})`,
    );
  }
  const service = name;
  const useTcp = options.tcp !== false;
  const useUdp = options.udp !== false;
  if (!useTcp && !useUdp) throw new NetkitError('NETKIT_USAGE', `${service}: neither TCP nor UDP enabled`);
  const quotes = options.quotes ?? DEFAULT_QUOTES;
  if (!quotes.length) throw new NetkitError('NETKIT_INVALID_INPUT', 'qotd needs at least one quote');
  if (service === 'qotd') checkQuotes(quotes);
  const port =
    options.port ?? (options.portBase !== undefined ? options.portBase + CLASSIC_PORTS[service] : 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new NetkitError('NETKIT_USAGE', `${service}: port ${port} is outside 0-65535 (check --port-base)`);
  }
  const idleMs = options.idleTimeoutMs ?? DEFAULT_SERVICE_IDLE_MS;
  const responder = new Responder(
    service,
    quotes,
    options.now ?? (() => new Date()),
    options.random ?? Math.random,
  );
  const emitter = new EventEmitter();
  const tracing = () => emitter.listenerCount('trace') > 0;

  const live = new Set<net.Socket>();
  const onTcp = (socket: net.Socket): void => {
    const id = nextConnId();
    live.add(socket);
    socket.once('close', () => live.delete(socket));
    traceEvent(
      emitter,
      service,
      id,
      'connect',
      'tcp',
      formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0),
    );
    socket.on('error', (err) => traceEvent(emitter, service, id, 'error', err.message));
    if (idleMs > 0 && service !== 'echo') {
      socket.setTimeout(idleMs, () => {
        traceEvent(emitter, service, id, 'info', 'idle timeout');
        socket.destroy();
      });
    }
    switch (service) {
      case 'echo':
        echoSocket(socket, { tracer: emitter, id, service, idleTimeoutMs: idleMs });
        return;
      case 'discard': {
        let bytes = 0;
        socket.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (tracing()) traceEvent(emitter, service, id, 'in', describeBytes(chunk));
        });
        socket.once('close', () =>
          traceEvent(emitter, service, id, 'disconnect', `${bytes} bytes discarded`),
        );
        return;
      }
      case 'chargen': {
        let sent = 0;
        socket.resume(); // input is discarded
        socket.once('close', () => traceEvent(emitter, service, id, 'disconnect', `${sent} bytes sent`));
        chargenTcp(socket, (n) => {
          sent += n;
        });
        return;
      }
      default: {
        const reply = responder.tcpReply();
        if (tracing()) traceEvent(emitter, service, id, 'out', describeBytes(reply));
        socket.resume();
        socket.once('close', () => traceEvent(emitter, service, id, 'disconnect', ''));
        socket.end(reply);
      }
    }
  };

  const onUdp = (udp: UdpListener): void => {
    const bases = new Set([DEFAULT_PORT_BASE, options.portBase ?? DEFAULT_PORT_BASE]);
    const guard = new UdpReplyGuard({
      servicePorts: [udp.port, ...[...bases].flatMap((b) => Object.values(CLASSIC_PORTS).map((p) => b + p))],
      perIpRate: options.udpRepliesPerIp,
    });
    udp.on('trace', (ev) => emitter.emit('trace', ev));
    udp.on('message', (d: Datagram) => {
      if (service === 'discard') return;
      const refused = guard.refuse(d.host, d.port);
      if (refused) {
        if (tracing()) {
          traceEvent(emitter, service, 0, 'info', `no reply to ${d.from}: ${refusalWords(refused, d.port)}`);
        }
        return;
      }
      const reply = responder.udpReply(d.data);
      if (reply) udp.send(reply, d.host, d.port);
    });
  };

  const { tcp, udp } = await bindBoth(service, options, port, useTcp ? onTcp : undefined, useUdp);
  if (udp) onUdp(udp);

  let closed: Promise<void> | undefined;
  const handle = Object.assign(emitter, {
    service,
    tcp: tcp ? { host: tcp.host, port: tcp.port } : undefined,
    udp: udp ? { host: udp.host, port: udp.port } : undefined,
    stats() {
      let queuedBytes = 0;
      for (const s of live) queuedBytes += s.writableLength;
      return { connections: live.size, queuedBytes };
    },
    close(deadlineMs = 2000) {
      closed ??= Promise.all([tcp?.close(deadlineMs), udp?.close()]).then(() => undefined);
      return closed;
    },
  });
  // a real getter (Object.assign would copy the value once)
  Object.defineProperty(handle, 'connections', { get: () => tcp?.connections ?? 0, enumerable: true });
  return handle as ClassicServiceHandle;
}

/**
 * Start several services (e.g. all six for the lab) with the same options; `port` may only be 0
 * (any free port for each) when there are several. On a failure the ones started are closed.
 */
export async function startServices(
  names: readonly string[],
  options: ClassicServiceOptions = {},
): Promise<ClassicServiceHandle[]> {
  if (options.port !== undefined && options.port !== 0 && names.length > 1) {
    throw new NetkitError(
      'NETKIT_USAGE',
      'an exact port can only be given for a single service (or 0 for any)',
    );
  }
  const started: ClassicServiceHandle[] = [];
  try {
    for (const n of names) started.push(await startService(n, options));
  } catch (err) {
    await Promise.all(started.map((h) => h.close(0)));
    throw err;
  }
  return started;
}
