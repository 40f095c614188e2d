/**
 * A multi-client TCP line chat that plain `nc`, `telnet` and `ncat` can use: connect, get a
 * banner and a guest nickname, talk in rooms. Built on the protocol core (`listenTcp` for limits
 * and graceful close, `LineConnection` for framing, idle timeout and the outbound-queue bound).
 *
 * Safety by default: text is stripped of control characters and escape sequences before it is
 * relayed (nobody repaints another user's terminal); every client has a line-rate limit and a
 * maximum line length; a client that stops reading is dropped once its queued output passes
 * `maxOutboundBytes`, so it never stalls the room or grows our memory. Fan-out is coalesced per
 * event-loop turn ({@link FanoutRoom}).
 *
 * TLS (as `ncat --ssl -l --chat` offers): `tlsPort` adds an implicit-TLS listener beside the plain
 * one, `tlsOnly` makes the main port speak TLS instead. Both listeners feed the same rooms, and one
 * shared count applies every connection limit to their sum. A TLS connection is counted as soon as
 * it connects, and its handshake must finish within `tlsHandshakeTimeoutMs`; it joins the room only
 * then, so a client that never finishes the handshake (or speaks plaintext to the TLS port) is
 * dropped without anyone seeing it. Over a limit, the TLS port closes at once: the busy reply has no
 * session to travel in.
 *
 * The handle is an EventEmitter usable headless (the lab dashboard shows rooms live and posts into
 * them from a browser): events `join`, `leave`, `message`, `nick`, `trace`; methods `rooms()`,
 * `history(room)`, `post(room, nick, text)`.
 *
 * Wire format (what a netcat user sees):
 *   `*** text`       a notice from the server (joins, leaves, replies)
 *   `!!! text`       an error reply to your own command
 *   `<nick> text`    someone said something in your room
 *   `* nick text`    an action (/me)
 *   `*nick* text`    a private message to you; `-> *nick* text` confirms one you sent
 */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { LineConnection } from '../core/connection.js';
import { resolveDataDir } from '../core/datadir.js';
import { NetkitError } from '../core/errors.js';
import type { TypedEmitter } from '../core/events.js';
import { ImplicitTls } from '../core/implicit-tls.js';
import {
  ConnectionLimits,
  formatHostPort,
  type ListenAddress,
  listenTcp,
  type TcpServerHandle,
} from '../core/server.js';
import { loadTls, type TlsMaterial } from '../core/tls.js';
import { isTlsHandshake } from '../core/tls-accept.js';
import { DEFAULT_TLS_HANDSHAKE_MS } from '../core/tls-server-socket.js';
import { type TraceEvents, traceEvent } from '../core/trace.js';
import { VERSION } from '../version.js';
import { decodeChatLine } from './chat-charset.js';
import {
  CHAT_HELP,
  type ChatCommand,
  nickKey,
  nickProblem,
  normaliseRoom,
  parseChatLine,
} from './chat-commands.js';
import { FanoutRoom } from './chat-fanout.js';
import { ChatHistory, type ChatMessage } from './chat-history.js';
import { RateLimiter, type RateLimitOptions } from './chat-rate.js';
import { sanitizeChatText } from './chat-sanitize.js';
import { TelnetFilter } from './telnet.js';

export type { ChatMessage } from './chat-history.js';

export interface ChatServerOptions {
  /** address to bind (default 127.0.0.1) */
  host?: string;
  /** 0 (the default) picks a free port; the CLI defaults to 7070 */
  port?: number;
  /** also listen with implicit TLS on this port (0 = any free port) */
  tlsPort?: number;
  /** the main `port` speaks TLS only, like `ncat --ssl -l` (then `tlsPort` must not be given) */
  tlsOnly?: boolean;
  /**
   * certificate and key for TLS (see `loadTls`); default: the self-signed development certificate
   * in `DATA/tls/`, created on first use (DATA: `dataDir`, else `$NETKIT_DATA` or `./netkit-data`)
   */
  tls?: TlsMaterial;
  /** a TLS client must finish its handshake within this time (default 10 s; 0: only the idle timeout applies) */
  tlsHandshakeTimeoutMs?: number;
  /** connections at most, both listeners together (default 1000) */
  maxClients?: number;
  /** connections per client IP, both listeners together (default 100) */
  maxClientsPerIp?: number;
  /** bytes per line, excluding the line end (default 1024); longer lines get a notice and are dropped */
  maxLineLength?: number;
  /** drop a client that has not sent anything for this long (default 1 hour; 0 disables) */
  idleTimeoutMs?: number;
  /** drop a client whose queued output passes this many bytes (default 256 KiB) */
  maxOutboundBytes?: number;
  /** per-client line rate limit; `{ perSecond: 0 }` disables it */
  rateLimit?: RateLimitOptions;
  /** messages kept per room and replayed on join (default 20; 0 disables history) */
  historySize?: number;
  /** persist history in `DATA/chat/history.jsonl` */
  dataDir?: string;
  /** rooms at most, counting empty rooms that still have history (default 100) */
  maxRooms?: number;
  /** join/leave/nick notices are broadcast only while a room has at most this many members (default 100) */
  announceLimit?: number;
  /** the room everyone starts in (default `lobby`) */
  defaultRoom?: string;
  /** extra banner lines after the welcome */
  motd?: string[];
}

export interface ChatJoinEvent {
  room: string;
  nick: string;
}
export interface ChatLeaveEvent {
  room: string;
  nick: string;
  /** `quit`, `quit: REASON`, `moved to #ROOM`, `connection closed`, `idle timeout`, `too slow`, `flooding`, `server shutting down` */
  reason: string;
}
export interface ChatNickEvent {
  room: string;
  old: string;
  nick: string;
}
export interface ChatRoomInfo {
  name: string;
  members: string[];
}

/** One listening socket of the chat server. */
export interface ChatListenAddress {
  host: string;
  port: number;
  tls: boolean;
}

/** What a {@link ChatServer} emits, each event with its listener's arguments. */
export interface ChatServerEvents extends TraceEvents {
  /** a client entered a room */
  join: [event: ChatJoinEvent];
  /** a client left a room */
  leave: [event: ChatLeaveEvent];
  /** a line said in a room (`/me` too), by a client or through `post()` */
  message: [message: ChatMessage];
  /** a client changed its nickname */
  nick: [event: ChatNickEvent];
}

export interface ChatServer extends TypedEmitter<ChatServerEvents> {
  readonly host: string;
  /** the main port (plaintext, or TLS with `tlsOnly`) */
  readonly port: number;
  /** the port that speaks TLS: the extra listener, or the main one with `tlsOnly`; else undefined */
  readonly tlsPort: number | undefined;
  /** every listening socket, the main one first */
  readonly addresses: readonly ChatListenAddress[];
  /** connected clients in the rooms (TLS clients once their handshake is done) */
  readonly clients: number;
  /** rooms (with members or history), the default room first */
  rooms(): ChatRoomInfo[];
  /** recent messages of a room, oldest first */
  history(room: string): ChatMessage[];
  /** post into a room as a participant that is not a TCP client (e.g. the web dashboard) */
  post(room: string, nick: string, text: string): ChatMessage;
  /** tell every client the server is shutting down, then close (destroying stragglers after the deadline) */
  close(deadlineMs?: number): Promise<void>;
}

export const CHAT_DEFAULTS = {
  maxClients: 1000,
  maxClientsPerIp: 100,
  maxLineLength: 1024,
  idleTimeoutMs: 3_600_000,
  maxOutboundBytes: 256 * 1024,
  historySize: 20,
  maxRooms: 100,
  announceLimit: 100,
  defaultRoom: 'lobby',
  tlsHandshakeTimeoutMs: DEFAULT_TLS_HANDSHAKE_MS,
} as const;

const SERVICE = 'chat';
const MAX_LISTED = 50;

/** One TCP participant. */
class Client {
  nick = '';
  room!: Room;
  leaveReason = 'connection closed';
  /** left the room and freed the nick (once, before or at the socket's close) */
  departed = false;
  readonly limiter: RateLimiter;

  constructor(
    readonly conn: LineConnection,
    rate: RateLimitOptions | undefined,
  ) {
    this.limiter = new RateLimiter(rate);
  }

  write(data: string | Buffer): boolean {
    if (this.conn.closed) return false;
    if (this.conn.write(data)) return true;
    if (this.leaveReason === 'connection closed') this.leaveReason = 'too slow';
    return false;
  }
}

class Room extends FanoutRoom<Client> {
  lastActive = Date.now();
  constructor(
    readonly name: string,
    schedule: (r: FanoutRoom<Client>) => void,
  ) {
    super(schedule);
  }
}

const clock = (ts: number): string => new Date(ts).toTimeString().slice(0, 5);

function formatMessage(m: ChatMessage): string {
  return m.kind === 'me' ? `* ${m.nick} ${m.text}` : `<${m.nick}> ${m.text}`;
}

function listNames(names: string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown} and ${names.length - MAX_LISTED} more` : shown;
}

/** Start a chat server; resolves once it is listening. */
export async function createChatServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  const o = { ...CHAT_DEFAULTS, ...options };
  const defaultRoom = normaliseRoom(o.defaultRoom);
  if ('error' in defaultRoom)
    throw new NetkitError('NETKIT_INVALID_INPUT', `default room: ${defaultRoom.error}`);
  if (o.tlsOnly && o.tlsPort !== undefined)
    throw new NetkitError('NETKIT_USAGE', 'chat: tlsOnly makes the main port TLS; do not give tlsPort too');
  const wantsTls = o.tlsOnly === true || o.tlsPort !== undefined;
  const tlsMaterial = wantsTls ? (o.tls ?? (await loadTls(resolveDataDir(o.dataDir)))) : undefined;
  const history = options.dataDir
    ? await ChatHistory.persistent(options.dataDir, o.historySize)
    : ChatHistory.memory(o.historySize);

  const emitter = new EventEmitter();
  const rooms = new Map<string, Room>();
  const nicks = new Map<string, Client>();
  const bySocket = new Map<net.Socket, Client>();
  const dirty = new Set<FanoutRoom<Client>>();
  let flushScheduled = false;
  let closing = false;
  let guestCounter = 0;

  const flushAll = (): void => {
    flushScheduled = false;
    for (const r of dirty) {
      dirty.delete(r);
      r.flush();
    }
  };
  const schedule = (r: FanoutRoom<Client>): void => {
    dirty.add(r);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  };

  const getRoom = (name: string, create: boolean): Room | undefined => {
    let room = rooms.get(name);
    if (room || !create) return room;
    if (rooms.size >= o.maxRooms) {
      // evict the least recently active empty room (its history goes with it)
      let victim: Room | undefined;
      for (const r of rooms.values()) {
        if (r.members.size === 0 && r.name !== defaultRoom.room && !r.pending) {
          if (!victim || r.lastActive < victim.lastActive) victim = r;
        }
      }
      if (!victim) return undefined;
      rooms.delete(victim.name);
      history.drop(victim.name);
    }
    room = new Room(name, schedule);
    rooms.set(name, room);
    return room;
  };
  getRoom(defaultRoom.room, true);
  for (const name of history.roomNames()) getRoom(name, true);

  const trace = (c: Client, kind: 'out' | 'info', text: string): void => {
    traceEvent(emitter, SERVICE, c.conn.id, kind, text);
  };
  /** A reply to one client, in order with its room's traffic. */
  const tell = (c: Client, line: string): void => {
    trace(c, 'out', line);
    c.room.direct(c, `${line}\r\n`);
  };
  const notice = (c: Client, text: string): void => tell(c, `*** ${text}`);
  const fail = (c: Client, text: string): void => tell(c, `!!! ${text}`);
  const announce = (room: Room, text: string, except?: Client): void => {
    if (room.members.size <= o.announceLimit) room.broadcast(`*** ${text}\r\n`, except);
  };

  const enterRoom = (c: Client, room: Room): void => {
    c.room = room;
    room.members.add(c);
    room.lastActive = Date.now();
    const others = [...room.members].filter((m) => m !== c).map((m) => m.nick);
    notice(
      c,
      others.length === 0
        ? `You joined #${room.name} (nobody else is here)`
        : `You joined #${room.name} (${others.length} other${others.length === 1 ? '' : 's'} here: ${listNames(others)})`,
    );
    const recent = history.get(room.name);
    if (recent.length > 0) {
      notice(c, `Recent messages in #${room.name}:`);
      for (const m of recent) tell(c, `[${clock(m.ts)}] ${formatMessage(m)}`);
      notice(c, 'End of recent messages.');
    }
    announce(room, `${c.nick} joined #${room.name}`, c);
    emitter.emit('join', { room: room.name, nick: c.nick } satisfies ChatJoinEvent);
  };

  const leaveRoom = (c: Client, reason: string): void => {
    const room = c.room;
    room.members.delete(c);
    room.lastActive = Date.now();
    if (!closing) announce(room, `${c.nick} left #${room.name} (${reason})`);
    // a room nobody is in and that remembers nothing is forgotten (the default room stays)
    if (room.members.size === 0 && room.name !== defaultRoom.room && !history.has(room.name))
      rooms.delete(room.name);
    emitter.emit('leave', { room: room.name, nick: c.nick, reason } satisfies ChatLeaveEvent);
  };

  /** Leave for good: the room is told and the nick is free at once, whenever the socket closes. */
  const depart = (c: Client, reason: string): void => {
    if (c.departed) return;
    c.departed = true;
    c.leaveReason = reason;
    if (nicks.get(nickKey(c.nick)) === c) nicks.delete(nickKey(c.nick));
    leaveRoom(c, reason);
  };

  /**
   * The server ends the session: the last line goes out, then the client leaves at once (nc and
   * ncat keep their side open after our FIN, so the socket's close may come much later).
   */
  const dismiss = (c: Client, reason: string, lastLine: string): void => {
    c.room.flush();
    depart(c, reason);
    c.conn.end(lastLine);
  };

  const record = (
    room: Room,
    nick: string,
    text: string,
    kind: 'say' | 'me',
    via: 'tcp' | 'api',
    from?: Client,
  ) => {
    const msg: ChatMessage = { ts: Date.now(), room: room.name, nick, text, kind, via };
    history.add(msg);
    room.lastActive = msg.ts;
    room.broadcast(`${formatMessage(msg)}\r\n`, from);
    emitter.emit('message', msg);
    return msg;
  };

  const commands: {
    [K in ChatCommand['kind']]: (c: Client, cmd: Extract<ChatCommand, { kind: K }>) => void;
  } = {
    empty: () => {},
    say: (c, cmd) => {
      record(c.room, c.nick, cmd.text, 'say', 'tcp', c);
    },
    me: (c, cmd) => {
      record(c.room, c.nick, cmd.text, 'me', 'tcp', c);
    },
    error: (c, cmd) => fail(c, cmd.message),
    help: (c) => {
      for (const line of CHAT_HELP) notice(c, line);
    },
    nick: (c, cmd) => {
      const key = nickKey(cmd.nick);
      const holder = nicks.get(key);
      if (holder && holder !== c) return fail(c, `nickname "${cmd.nick}" is already taken`);
      if (cmd.nick === c.nick) return notice(c, `You are already ${c.nick}`);
      const old = c.nick;
      nicks.delete(nickKey(old));
      nicks.set(key, c);
      c.nick = cmd.nick;
      notice(c, `You are now known as ${c.nick}`);
      announce(c.room, `${old} is now known as ${c.nick}`, c);
      emitter.emit('nick', { room: c.room.name, old, nick: c.nick } satisfies ChatNickEvent);
    },
    join: (c, cmd) => {
      if (cmd.room === c.room.name) return notice(c, `You are already in #${cmd.room}`);
      const room = getRoom(cmd.room, true);
      if (!room) return fail(c, `too many rooms (at most ${o.maxRooms}); join an existing one (/rooms)`);
      // everything already queued for this client in its old room goes out first, and what the
      // new room said earlier in this turn is not for it (its history replay has it already)
      c.room.flush();
      room.flush();
      leaveRoom(c, `moved to #${room.name}`);
      enterRoom(c, room);
    },
    rooms: (c) => {
      const list = api.rooms().map((r) => `#${r.name} (${r.members.length})`);
      notice(c, `Rooms: ${listNames(list)}`);
    },
    who: (c, cmd) => {
      const room = cmd.room ? rooms.get(cmd.room) : c.room;
      if (!room) return fail(c, `no room #${cmd.room}`);
      const names = [...room.members].map((m) => m.nick);
      notice(c, `In #${room.name} (${names.length}): ${names.length ? listNames(names) : 'nobody'}`);
    },
    msg: (c, cmd) => {
      const target = nicks.get(nickKey(cmd.nick));
      if (!target) return fail(c, `no such user "${cmd.nick}"`);
      tell(target, `*${c.nick}* ${cmd.text}`);
      tell(c, `-> *${target.nick}* ${cmd.text}`);
    },
    quit: (c, cmd) => dismiss(c, cmd.reason ? `quit: ${cmd.reason}` : 'quit', '*** Bye!'),
  };

  const handleLine = (c: Client, line: string): void => {
    const verdict = c.limiter.check();
    if (verdict !== 'ok') {
      if (verdict === 'disconnect') {
        dismiss(c, 'flooding', '!!! Too many lines too fast: disconnected.');
      } else if (verdict === 'drop-notify') {
        fail(c, 'You are sending too fast; lines are being dropped. Slow down.');
      }
      return;
    }
    const cmd = parseChatLine(line);
    (commands[cmd.kind] as (c: Client, cmd: ChatCommand) => void)(c, cmd);
  };

  const freshGuestNick = (): string => {
    for (;;) {
      guestCounter += 1;
      const nick = `guest${guestCounter}`;
      if (!nicks.has(nickKey(nick))) return nick;
    }
  };

  /** Line framing, idle timeout and the output bound, for a socket of either listener. */
  const lineConnection = (socket: net.Socket): LineConnection => {
    socket.setKeepAlive(true, 60_000);
    const telnet = new TelnetFilter((bytes) => conn.write(bytes));
    let first = true;
    const conn: LineConnection = new LineConnection(socket, {
      service: SERVICE,
      tracer: emitter,
      maxLineLength: o.maxLineLength,
      idleTimeoutMs: o.idleTimeoutMs,
      maxOutboundBytes: o.maxOutboundBytes,
      encoding: decodeChatLine,
      // after the client's FIN our side closes once this resolves: the replies to its last lines
      // wait in the room's batch for the end of the turn, so they go out first (over TLS the data
      // and the close often arrive in one read, before that batch would have left)
      drained: () => {
        bySocket.get(socket)?.room.flush();
        return Promise.resolve();
      },
      // `printf 'hi' | nc`: the last line counts without its newline, as ncat --chat relays it
      partialLineAtEnd: true,
      inputFilter: (chunk) => {
        // `chat join --tls` (or openssl s_client) at the plain port: its ClientHello is no chat
        // line — it would reach the room as binary junk and stay in the history. Turn it away.
        const opening = first;
        first = false;
        if (opening && !conn.secure && isTlsHandshake(chunk)) {
          traceEvent(emitter, SERVICE, conn.id, 'error', 'a TLS handshake at the plain port; closed');
          socket.destroy();
          return Buffer.alloc(0);
        }
        return telnet.push(chunk);
      },
    });
    return conn;
  };

  /**
   * A client enters the default room. `socket` is the one its listener counts (for TLS, the raw
   * socket under the session); `where` is that listener's address.
   */
  const admit = (socket: net.Socket, conn: LineConnection, where: ListenAddress): void => {
    const c = new Client(conn, options.rateLimit);
    bySocket.set(socket, c);
    c.nick = freshGuestNick();
    nicks.set(nickKey(c.nick), c);
    const room = getRoom(defaultRoom.room, true)!;
    // what the room said earlier in this turn is not for the newcomer (nor before its banner)
    room.flush();
    c.room = room; // replies queue in the room's stream; enterRoom() makes c a member
    const online = nicks.size;
    const on = `${formatHostPort(where.host, where.port)}${conn.secure ? ' (TLS)' : ''}`;
    notice(c, `Welcome to netkit chat ${VERSION} on ${on} (${online} online).`);
    for (const line of o.motd ?? []) notice(c, sanitizeChatText(line));
    notice(c, `You are ${c.nick}. Change it with /nick NAME; /help lists the commands.`);
    enterRoom(c, room);

    conn.onLine((line) => handleLine(c, line));
    conn.onOverflow(() => {
      if (c.limiter.check() === 'disconnect') {
        c.leaveReason = 'flooding';
        c.conn.destroy();
        return;
      }
      fail(c, `Line too long (at most ${o.maxLineLength} bytes); it was dropped.`);
    });
    conn.on('idle', () => dismiss(c, 'idle timeout', '*** Idle timeout: disconnected.'));
    conn.once('close', () => {
      bySocket.delete(socket);
      depart(c, c.leaveReason);
    });
  };

  /** Implicit TLS: the handshake first, bounded in time; the room only after it. */
  const implicitTls = tlsMaterial ? new ImplicitTls(tlsMaterial.context, o.tlsHandshakeTimeoutMs) : undefined;
  const acceptTls = (socket: net.Socket, where: ListenAddress): void => {
    const conn = lineConnection(socket);
    implicitTls!.accept(socket, conn, () => {
      if (closing) conn.end('*** Server shutting down. Goodbye!');
      else admit(socket, conn, where);
    });
  };

  /** One count for both listeners: a second port does not double the limits. */
  const limits = new ConnectionLimits(o.maxClients, o.maxClientsPerIp);
  const listen = async (port: number, secure: boolean): Promise<TcpServerHandle> => {
    const where: ListenAddress = { host: '', port: 0 };
    const handle = await listenTcp({
      service: SERVICE,
      host: o.host,
      port,
      limits,
      onConnection: secure
        ? (socket) => acceptTls(socket, where)
        : (socket) => admit(socket, lineConnection(socket), where),
      // no TLS session yet to carry the busy reply in: the TLS port just closes
      onReject: (_s, reason) =>
        secure
          ? undefined
          : reason === 'total'
            ? '!!! The chat is full; try again later.\r\n'
            : '!!! Too many connections from your address.\r\n',
      onShutdown: (socket) => {
        if (implicitTls?.dropIfHandshaking(socket)) return;
        const c = bySocket.get(socket);
        if (!c) return socket.end();
        c.leaveReason = 'server shutting down';
        c.conn.closeOnceEnded();
        c.conn.end('*** Server shutting down. Goodbye!');
      },
    });
    where.host = handle.host;
    where.port = handle.port;
    return handle;
  };

  let main: TcpServerHandle | undefined;
  let extra: TcpServerHandle | undefined;
  try {
    main = await listen(o.port ?? 0, o.tlsOnly === true);
    if (o.tlsPort !== undefined) extra = await listen(o.tlsPort, true);
  } catch (err) {
    await main?.close(0);
    await history.close();
    throw err;
  }
  const addresses: readonly ChatListenAddress[] = Object.freeze([
    { host: main.host, port: main.port, tls: o.tlsOnly === true },
    ...(extra ? [{ host: extra.host, port: extra.port, tls: true }] : []),
  ]);
  const closeListeners = async (deadlineMs: number): Promise<void> => {
    await Promise.all([main.close(deadlineMs), extra?.close(deadlineMs)]);
  };

  const api = {
    get host() {
      return main.host;
    },
    get port() {
      return main.port;
    },
    get tlsPort() {
      return addresses.find((l) => l.tls)?.port;
    },
    get addresses() {
      return addresses;
    },
    get clients() {
      return bySocket.size;
    },
    rooms(): ChatRoomInfo[] {
      const list = [...rooms.values()].map((r) => ({
        name: r.name,
        members: [...r.members].map((m) => m.nick),
      }));
      return list.sort((a, b) =>
        a.name === defaultRoom.room ? -1 : b.name === defaultRoom.room ? 1 : a.name.localeCompare(b.name),
      );
    },
    history(room: string): ChatMessage[] {
      const r = normaliseRoom(room);
      return 'error' in r ? [] : history.get(r.room);
    },
    post(room: string, nick: string, text: string): ChatMessage {
      const r = normaliseRoom(room);
      if ('error' in r) throw new NetkitError('NETKIT_INVALID_INPUT', r.error);
      const problem = nickProblem(nick);
      if (problem) throw new NetkitError('NETKIT_INVALID_INPUT', problem);
      if (nicks.has(nickKey(nick)))
        throw new NetkitError('NETKIT_EXISTS', `nickname "${nick}" belongs to a connected client`);
      const clean = sanitizeChatText(text);
      if (!clean) throw new NetkitError('NETKIT_INVALID_INPUT', 'nothing to say');
      if (Buffer.byteLength(clean) > o.maxLineLength)
        throw new NetkitError('NETKIT_TOO_LARGE', `a message is at most ${o.maxLineLength} bytes`);
      const target = getRoom(r.room, true);
      if (!target) throw new NetkitError('NETKIT_TOO_LARGE', `too many rooms (at most ${o.maxRooms})`);
      return record(target, nick, clean, 'say', 'api');
    },
    async close(deadlineMs = 2000): Promise<void> {
      if (closing) return closeListeners(deadlineMs);
      closing = true;
      flushAll();
      await closeListeners(deadlineMs);
      await history.close();
    },
  };
  // defineProperties (not Object.assign) keeps the getters live
  return Object.defineProperties(emitter, Object.getOwnPropertyDescriptors(api)) as unknown as ChatServer;
}
