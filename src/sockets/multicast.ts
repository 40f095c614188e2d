/**
 * UDP multicast: one socket that joins a group, sends to it and receives what the group says — the
 * course's multicast chat, plus one-direction `send` and `listen`.
 *
 * - The socket is opened with `reuseAddr`, so several members on one host can share the port.
 * - On Linux it binds to the group address itself, so only datagrams sent to that group reach it
 *   (binding to 0.0.0.0 would also deliver unicast and other groups on the same port); elsewhere it
 *   binds to the wildcard address.
 * - `interface` picks the local interface address used both to join (IP_ADD_MEMBERSHIP) and to send
 *   (IP_MULTICAST_IF); without it the kernel uses the default route's interface. On a host with no
 *   default route (a sandbox, CI), `127.0.0.1` works for members on the same machine.
 * - `ttl` is IP_MULTICAST_TTL (1 = this network only); `loopback` is IP_MULTICAST_LOOP: with it off,
 *   no socket on this host receives our datagrams (ourselves included).
 * - `close()` leaves the group (IP_DROP_MEMBERSHIP) before closing the socket.
 *
 * Chat messages travel as a small JSON envelope so receivers can show the sender's nickname and
 * recognise their own messages (by a random per-socket `id`, since every member on one host has the
 * same source address):
 *   {"app":"netkit-mchat","v":1,"id":"3f9c0a1b2d4e","nick":"alice","text":"hello"}
 * Any other datagram (e.g. from `netkit multicast send`, `socat` or a Python script) is shown as
 * plain text with its sender's address as the name.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { NetkitError, systemErrorWords } from '../core/errors.js';
import { TypedEventEmitter } from '../core/events.js';
import { formatHostPort } from '../core/server.js';
import { nextConnId, type TraceEvents, traceEvent } from '../core/trace.js';
import { stripControls } from './chat-sanitize.js';
import { resolveMulticastInterface } from './multicast-iface.js';
import { checkPayloadSize, MAX_UDP_PAYLOAD } from './udp.js';

export const DEFAULT_MULTICAST_GROUP = '239.255.0.1';
export const DEFAULT_MULTICAST_PORT = 5007;
/** The largest UDP payload over IPv4 (an IPv6 group takes 65,527). */
export const MAX_DATAGRAM = MAX_UDP_PAYLOAD;

export interface MulticastOptions {
  /** the multicast group to join (default 239.255.0.1) */
  group?: string;
  /** UDP port of the group (default 5007) */
  port?: number;
  /**
   * local interface to join and send on: an IPv4 address (127.0.0.1, 192.168.1.10); for an IPv6
   * group `::%eth0`, an interface name, or a local IPv6 address (mapped to its interface)
   */
  interface?: string;
  /** IP_MULTICAST_TTL, 0–255 (default 1) */
  ttl?: number;
  /** IP_MULTICAST_LOOP (default true) */
  loopback?: boolean;
  /** join the group and receive (default true; false for a pure sender) */
  receive?: boolean;
}

export interface MulticastDatagram {
  data: Buffer;
  address: string;
  port: number;
}

/** Is this a multicast group address (224.0.0.0/4 or ff00::/8)? */
export function isMulticastAddress(address: string): boolean {
  if (net.isIPv4(address)) {
    const first = Number(address.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  if (net.isIPv6(address)) return /^ff[0-9a-f]{2}:/i.test(address);
  return false;
}

/** What a {@link MulticastSocket} emits, each event with its listener's arguments. */
export interface MulticastSocketEvents extends TraceEvents {
  /** a datagram sent to the group (our own too, with `loopback`) */
  message: [datagram: MulticastDatagram];
  /** a socket error (emitted only while someone listens: without a listener it is traced) */
  error: [error: Error];
}

/** A UDP socket that is a member of one multicast group. */
export class MulticastSocket extends TypedEventEmitter<MulticastSocketEvents> {
  readonly id = nextConnId();
  readonly group: string;
  readonly port: number;
  readonly ttl: number;
  readonly loopback: boolean;
  readonly interface: string | undefined;
  private joined = false;
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    opts: Required<Pick<MulticastOptions, 'group' | 'port' | 'ttl' | 'loopback'>> & { interface?: string },
  ) {
    super();
    this.group = opts.group;
    this.port = opts.port;
    this.ttl = opts.ttl;
    this.loopback = opts.loopback;
    this.interface = opts.interface;
  }

  /** Open the socket, bind, join the group and apply TTL / loopback / interface. */
  static async open(options: MulticastOptions = {}): Promise<MulticastSocket> {
    const group = options.group ?? DEFAULT_MULTICAST_GROUP;
    const port = options.port ?? DEFAULT_MULTICAST_PORT;
    const ttl = options.ttl ?? 1;
    const loopback = options.loopback ?? true;
    const receive = options.receive ?? true;
    if (!isMulticastAddress(group))
      throw new NetkitError(
        'NETKIT_USAGE',
        `${group} is not a multicast group address (224.0.0.0/4 or ff00::/8; e.g. 239.255.0.1)`,
      );
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new NetkitError('NETKIT_USAGE', `${port} is not a port`);
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255)
      throw new NetkitError('NETKIT_USAGE', `TTL must be 0-255, not ${ttl}`);
    const iface = resolveMulticastInterface(group, options.interface);
    const v6 = net.isIPv6(group);
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: true });
    const ms = new MulticastSocket(socket, { group, port, ttl, loopback, interface: iface });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new NetkitError(
            err.code === 'EADDRINUSE' ? 'NETKIT_ADDRESS_IN_USE' : 'NETKIT_IO',
            `multicast: cannot bind port ${port}: ${err.code ?? err.message}`,
            { cause: err },
          ),
        ),
      );
      // a receiver binds the group (Linux filters by destination); a pure sender needs any port
      const address = receive && process.platform === 'linux' && !v6 ? group : undefined;
      socket.bind(receive ? { port, address } : { port: 0 }, () => {
        socket.removeAllListeners('error');
        resolve();
      });
    });
    try {
      if (receive) {
        if (iface) socket.addMembership(group, iface);
        else socket.addMembership(group);
        ms.joined = true;
      }
      if (iface) socket.setMulticastInterface(iface);
      socket.setMulticastTTL(ttl);
      socket.setMulticastLoopback(loopback);
    } catch (err) {
      socket.close();
      const e = err as NodeJS.ErrnoException;
      throw new NetkitError(
        'NETKIT_IO',
        `multicast: cannot join ${group}${iface ? ` on ${iface}` : ''}: ${systemErrorWords(e)}` +
          (iface ? '' : ' (no multicast route? try --interface 127.0.0.1)'),
        { cause: err },
      );
    }
    socket.on('message', (data, rinfo) => {
      ms.trace('in', `${formatHostPort(rinfo.address, rinfo.port)} ${data.length} bytes`);
      ms.emit('message', { data, address: rinfo.address, port: rinfo.port } satisfies MulticastDatagram);
    });
    socket.on('error', (err) => {
      ms.trace('error', err.message);
      if (ms.listenerCount('error') > 0) ms.emit('error', err);
    });
    ms.trace(
      'info',
      `${receive ? 'joined' : 'sending to'} ${formatHostPort(group, port)} ttl=${ttl} loopback=${loopback}${iface ? ` interface=${iface}` : ''}`,
    );
    return ms;
  }

  /** The local address the socket is bound to. */
  get localPort(): number {
    return this.socket.address().port;
  }

  /** Send one datagram to the group. */
  send(payload: string | Buffer): Promise<void> {
    const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
    try {
      checkPayloadSize(data.length, net.isIPv6(this.group) ? 6 : 4);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed) return Promise.reject(new NetkitError('NETKIT_IO', 'multicast socket is closed'));
    this.trace('out', `${formatHostPort(this.group, this.port)} ${data.length} bytes`);
    return new Promise((resolve, reject) => {
      this.socket.send(data, this.port, this.group, (err) =>
        err
          ? reject(
              new NetkitError(
                'NETKIT_IO',
                `multicast send to ${formatHostPort(this.group, this.port)} failed${this.interface ? ` on ${this.interface}` : ''}: ${systemErrorWords(err)}`,
                { cause: err },
              ),
            )
          : resolve(),
      );
    });
  }

  /** Leave the group and close the socket. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.joined) {
      try {
        if (this.interface) this.socket.dropMembership(this.group, this.interface);
        else this.socket.dropMembership(this.group);
        this.trace('info', `left ${this.group}`);
      } catch {
        // the socket may already be unusable; closing it leaves the group anyway
      }
      this.joined = false;
    }
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private trace(kind: 'in' | 'out' | 'info' | 'error', text: string): void {
    traceEvent(this, 'multicast', this.id, kind, text);
  }
}

// ---- the chat envelope ----

export const MCHAT_APP = 'netkit-mchat';
const MAX_NICK = 32;

export interface MulticastChatMessage {
  nick: string;
  text: string;
  /** true when this member sent it (recognised by the envelope id) */
  self: boolean;
  /** true when the datagram was not a chat envelope (plain text from another tool) */
  plain: boolean;
  address: string;
  port: number;
}

/** Encode a chat line as the JSON envelope. */
export function encodeChatEnvelope(id: string, nick: string, text: string): Buffer {
  return Buffer.from(JSON.stringify({ app: MCHAT_APP, v: 1, id, nick, text }));
}

/** Decode a datagram: an envelope, or plain text from some other sender. Text is terminal-safe. */
export function decodeChatDatagram(dgramIn: MulticastDatagram, ownId?: string): MulticastChatMessage {
  const raw = dgramIn.data.toString('utf8');
  const from = formatHostPort(dgramIn.address, dgramIn.port);
  if (raw.startsWith('{')) {
    try {
      const env = JSON.parse(raw) as { app?: unknown; id?: unknown; nick?: unknown; text?: unknown };
      if (env.app === MCHAT_APP && typeof env.text === 'string') {
        const nick = typeof env.nick === 'string' ? stripControls(env.nick).trim().slice(0, MAX_NICK) : '';
        return {
          nick: nick || from,
          text: stripControls(env.text),
          self: ownId !== undefined && env.id === ownId,
          plain: false,
          address: dgramIn.address,
          port: dgramIn.port,
        };
      }
    } catch {
      // not JSON after all: plain text
    }
  }
  return {
    nick: from,
    text: stripControls(raw.replace(/\r?\n$/, '')),
    self: false,
    plain: true,
    address: dgramIn.address,
    port: dgramIn.port,
  };
}

export interface MulticastChatOptions extends MulticastOptions {
  /** the name shown with every line said */
  nick: string;
}

/** What a {@link MulticastChat} emits, each event with its listener's arguments. */
export interface MulticastChatEvents extends TraceEvents {
  /** a line the group said (own ones have `self: true` when loopback is on) */
  message: [message: MulticastChatMessage];
}

/**
 * A multicast chat member: `say(text)` sends an envelope, `message` events deliver what the group
 * says (own messages have `self: true` when loopback is on). `close()` leaves the group.
 */
export class MulticastChat extends TypedEventEmitter<MulticastChatEvents> {
  readonly id = randomBytes(6).toString('hex');
  private constructor(
    readonly socket: MulticastSocket,
    readonly nick: string,
  ) {
    super();
    socket.on('message', (d: MulticastDatagram) => this.emit('message', decodeChatDatagram(d, this.id)));
    socket.on('trace', (ev) => this.emit('trace', ev));
  }

  static async open(options: MulticastChatOptions): Promise<MulticastChat> {
    const nick = stripControls(options.nick).trim();
    if (!nick || nick.length > MAX_NICK)
      throw new NetkitError('NETKIT_USAGE', `a nickname is 1-${MAX_NICK} printable characters`);
    const socket = await MulticastSocket.open(options);
    return new MulticastChat(socket, nick);
  }

  say(text: string): Promise<void> {
    return this.socket.send(encodeChatEnvelope(this.id, this.nick, text));
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}
