/**
 * UDP datagrams: a client that sends and collects replies with their sender, and a listener that
 * reports (or echoes, within the classic services' reply guard) every datagram. The socket family
 * follows the address (`udp4` for IPv4, `udp6` for IPv6), and an oversized payload is refused
 * before anything reaches the kernel: the 64 KB lesson, with a message instead of `EMSGSIZE`. The
 * limit is the family's: IPv6's payload length does not count its own header, so an IPv6 datagram
 * carries 20 bytes more than an IPv4 one.
 *
 * The client connects its socket to a unicast destination, as nc and ncat do: the kernel then
 * reports the ICMP "port unreachable" of a closed port (Linux says nothing to an unconnected
 * socket), and only the destination's replies are accepted. Multicast and broadcast destinations
 * stay unconnected, since their replies come from other addresses.
 */
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { NetkitError } from '../core/errors.js';
import { type TypedEmitter, TypedEventEmitter } from '../core/events.js';
import { formatHostPort } from '../core/server.js';
import { nextConnId, type TraceEvents, traceEvent } from '../core/trace.js';
import { describeBytes, groupDigits } from './bytes.js';
import { checkLiteralFamily } from './family.js';
import { refusalWords, UdpReplyGuard } from './udp-guard.js';

/** 65,535 − 8 (UDP header) − 20 (IPv4 header): the largest payload one IPv4 datagram can carry. */
export const MAX_UDP_PAYLOAD = 65_507;
/** 65,535 − 8 (UDP header): the largest payload one IPv6 datagram can carry (no jumbograms). */
export const MAX_UDP6_PAYLOAD = 65_527;

/** The largest payload one datagram of this address family can carry. */
export function maxUdpPayload(family: 4 | 6 = 4): number {
  return family === 6 ? MAX_UDP6_PAYLOAD : MAX_UDP_PAYLOAD;
}

export interface Datagram {
  data: Buffer;
  /** sender address and port */
  host: string;
  port: number;
  /** `host:port` (IPv6 bracketed) */
  from: string;
}

/** The end of a too-large message: `over the UDP limit of 65,507 bytes per datagram` (IPv6: `per IPv6 datagram`). */
export function udpLimitWords(family: 4 | 6 = 4): string {
  return `over the UDP limit of ${groupDigits(maxUdpPayload(family))} bytes per ${family === 6 ? 'IPv6 ' : ''}datagram`;
}

/** Throw `NETKIT_TOO_LARGE` for a payload no datagram of this family (default IPv4) can carry. */
export function checkPayloadSize(size: number, family: 4 | 6 = 4): void {
  if (size > maxUdpPayload(family)) {
    throw new NetkitError(
      'NETKIT_TOO_LARGE',
      `payload of ${groupDigits(size)} bytes is ${udpLimitWords(family)}`,
    );
  }
}

async function resolveHost(host: string, family?: 4 | 6): Promise<{ address: string; family: 4 | 6 }> {
  checkLiteralFamily(host, family);
  const v = net.isIP(host);
  if (v) return { address: host, family: v as 4 | 6 };
  try {
    const r = await dns.lookup(host, family ? { family } : {});
    return { address: r.address, family: r.family as 4 | 6 };
  } catch (err) {
    throw new NetkitError('NETKIT_NOT_FOUND', `cannot resolve host "${host}"`, { cause: err });
  }
}

/** Whether replies to `address` come from `address` itself (so the socket may be connected). */
function isUnicast(address: string, family: 4 | 6): boolean {
  if (family === 6) return !/^ff/i.test(address);
  const [a, , , d] = address.split('.').map(Number);
  return !(a! >= 224 || d === 255);
}

/** The error a connected UDP socket reports after an ICMP "port unreachable" from its peer. */
function refusedError(err: NodeJS.ErrnoException, address: string, port: number): Error {
  if (err.code !== 'ECONNREFUSED') return err;
  return new NetkitError(
    'NETKIT_CONNECT_FAILED',
    `nothing listens on UDP ${formatHostPort(address, port)} (ICMP port unreachable)`,
    { cause: err },
  );
}

function toDatagram(data: Buffer, rinfo: dgram.RemoteInfo): Datagram {
  return { data, host: rinfo.address, port: rinfo.port, from: formatHostPort(rinfo.address, rinfo.port) };
}

/** What a {@link UdpClient} emits, each event with its listener's arguments. */
export interface UdpClientEvents extends TraceEvents {
  /** a reply arrived */
  message: [datagram: Datagram];
  /**
   * a socket error; `NETKIT_CONNECT_FAILED` when the kernel reports that nothing listens on a
   * unicast destination (emitted only while someone listens: without a listener it is traced)
   */
  error: [error: Error];
}

/** A UDP client bound to an ephemeral port, sending to one destination. */
export class UdpClient extends TypedEventEmitter<UdpClientEvents> {
  readonly id = nextConnId();
  private constructor(
    readonly socket: dgram.Socket,
    readonly address: string,
    readonly port: number,
    /** the destination's address family, which sets the payload limit */
    readonly family: 4 | 6,
  ) {
    super();
    socket.on('message', (data, rinfo) => {
      const d = toDatagram(data, rinfo);
      this.trace('in', `${describeBytes(data)} from ${d.from}`);
      this.emit('message', d);
    });
    socket.on('error', (err) => {
      const e = refusedError(err, address, port);
      this.trace('error', e.message);
      if (this.listenerCount('error') > 0) this.emit('error', e);
    });
  }

  /** Resolve `host` and open a socket of the matching family. */
  static async open(host: string, port: number, options: { family?: 4 | 6 } = {}): Promise<UdpClient> {
    const dest = await resolveHost(host, options.family);
    const socket = dgram.createSocket(dest.family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        if (!isUnicast(dest.address, dest.family)) {
          socket.off('error', reject);
          resolve();
          return;
        }
        socket.connect(port, dest.address, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    });
    return new UdpClient(socket, dest.address, port, dest.family);
  }

  /** The socket is connected to the destination (a unicast address). */
  private get connected(): boolean {
    try {
      this.socket.remoteAddress();
      return true;
    } catch {
      return false;
    }
  }

  /** The largest payload one datagram to the destination can carry (65,507 for IPv4, 65,527 for IPv6). */
  get maxPayload(): number {
    return maxUdpPayload(this.family);
  }

  /** Send one datagram; resolves once the kernel has taken it. */
  send(data: string | Buffer): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    checkPayloadSize(buf.length, this.family);
    this.trace('out', `${describeBytes(buf)} to ${formatHostPort(this.address, this.port)}`);
    return new Promise((resolve, reject) => {
      const done = (err: Error | null) =>
        err ? reject(refusedError(err as NodeJS.ErrnoException, this.address, this.port)) : resolve();
      if (this.connected) this.socket.send(buf, done);
      else this.socket.send(buf, this.port, this.address, done);
    });
  }

  /** Wait for the next reply, or undefined after `timeoutMs`. */
  receive(timeoutMs: number): Promise<Datagram | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.off('message', onMessage);
        resolve(undefined);
      }, timeoutMs);
      const onMessage = (d: Datagram) => {
        clearTimeout(timer);
        resolve(d);
      };
      this.once('message', onMessage);
    });
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  private trace(kind: 'in' | 'out' | 'error', text: string): void {
    traceEvent(this, 'udp', this.id, kind, text);
  }
}

/**
 * One request/reply exchange: send `data` and collect every reply that arrives within `waitMs`.
 */
export async function udpRequest(
  host: string,
  port: number,
  data: string | Buffer,
  waitMs = 1000,
): Promise<Datagram[]> {
  const client = await UdpClient.open(host, port);
  const replies: Datagram[] = [];
  client.on('message', (d: Datagram) => replies.push(d));
  try {
    await client.send(data);
    await new Promise((r) => setTimeout(r, waitMs));
    return replies;
  } finally {
    client.close();
  }
}

export interface UdpListenOptions {
  /** address to bind (default 127.0.0.1) */
  host?: string;
  /** 0 (the default) = any free port; the listener has the real one */
  port?: number;
  /**
   * send every datagram back to its sender, through the classic services' {@link UdpReplyGuard}:
   * no reply to a source port below 1024 or to our own port (reflection, echo loops), and at most
   * `repliesPerIp` per second to one source IP
   */
  echo?: boolean;
  /** with `echo`: replies per second (and burst) to one source IP (default 64, as `serve --udp-rate`) */
  repliesPerIp?: number;
  /** service name for trace events (default `udp`) */
  service?: string;
}

/** What a {@link UdpListener} emits, each event with its listener's arguments. */
export interface UdpListenerEvents extends TraceEvents {
  /** a datagram arrived (after its echo, with `echo`) */
  message: [datagram: Datagram];
}

/** A bound UDP socket. */
export interface UdpListener extends TypedEmitter<UdpListenerEvents> {
  readonly host: string;
  readonly port: number;
  readonly socket: dgram.Socket;
  /** send to `host:port`; false when closed, or (with an error trace) when the payload is over the datagram limit */
  send(data: Buffer, host: string, port: number): boolean;
  close(): Promise<void>;
}

/** Bind a UDP socket (loopback by default; port 0 reports the real port). */
export async function bindUdp(options: UdpListenOptions = {}): Promise<UdpListener> {
  const host = options.host ?? '127.0.0.1';
  const service = options.service ?? 'udp';
  const family = net.isIP(host);
  if (!family) throw new NetkitError('NETKIT_USAGE', `--host must be an IP address, got "${host}"`);
  const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new NetkitError(
            'NETKIT_ADDRESS_IN_USE',
            // `udp: port 9999 …` for udp listen, `echo: udp port 7007 …` for a classic service
            `${service}: ${service === 'udp' ? '' : 'udp '}port ${options.port} on ${host} is already in use`,
            { cause: err },
          ),
        );
      } else reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address: host, port: options.port ?? 0, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
  const id = nextConnId();
  const addr = socket.address();
  const emitter = new EventEmitter();
  const guard = options.echo
    ? new UdpReplyGuard({ servicePorts: [addr.port], perIpRate: options.repliesPerIp })
    : undefined;
  /** Echo `d` unless the guard refuses its sender (traced, as the classic services do). */
  const echo = (d: Datagram): void => {
    const refused = guard?.refuse(d.host, d.port);
    if (!refused) {
      handle.send(d.data, d.host, d.port);
      return;
    }
    if (emitter.listenerCount('trace') === 0) return;
    traceEvent(
      emitter,
      service,
      id,
      'info',
      `no reply to ${d.from}: ${refusalWords(refused, d.port)}`,
      d.from,
    );
  };
  // ICMP port-unreachable for an earlier reply, and the like: never fatal for a server
  socket.on('error', (err) => traceEvent(emitter, service, id, 'error', err.message));
  socket.on('message', (data, rinfo) => {
    const d = toDatagram(data, rinfo);
    if (emitter.listenerCount('trace') > 0)
      traceEvent(emitter, service, id, 'in', `${describeBytes(data)} from ${d.from}`, d.from);
    // echo first: a 'message' listener may close the socket (udp listen --echo --count N)
    if (options.echo) echo(d);
    emitter.emit('message', d);
  });
  let closed: Promise<void> | undefined;
  let sending = 0;
  let whenSent: (() => void) | undefined;
  const handle = Object.assign(emitter, {
    host: addr.address,
    port: addr.port,
    socket,
    send(data: Buffer, toHost: string, toPort: number): boolean {
      if (closed) return false; // dgram throws on a closed socket
      if (data.length > maxUdpPayload(family === 6 ? 6 : 4)) {
        traceEvent(
          emitter,
          service,
          id,
          'error',
          `reply of ${data.length} bytes is over the UDP limit, not sent`,
        );
        return false;
      }
      if (emitter.listenerCount('trace') > 0) {
        const to = formatHostPort(toHost, toPort);
        traceEvent(emitter, service, id, 'out', `${describeBytes(data)} to ${to}`, to);
      }
      sending += 1;
      socket.send(data, toPort, toHost, (err) => {
        if (err) traceEvent(emitter, service, id, 'error', err.message);
        sending -= 1;
        if (sending === 0) whenSent?.();
      });
      return true;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        // replies already handed to send() go out first (closing cancels them)
        const shut = () => {
          try {
            socket.close(() => resolve());
          } catch {
            resolve();
          }
        };
        if (sending === 0) shut();
        else whenSent = shut;
      });
      return closed;
    },
  });
  return handle as UdpListener;
}
