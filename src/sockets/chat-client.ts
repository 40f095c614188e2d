/**
 * The client side of the line chat, without any terminal handling (the CLI adds the readline
 * prompt). It works against our server and against any plain line relay such as `ncat --chat`:
 *
 * - it waits for the server's first line (up to `greetingTimeoutMs`); if that is the netkit banner
 *   it sends `/nick NAME`, otherwise the server is a plain relay and the nickname is not sent (it
 *   would be relayed as text). Lines the user sends meanwhile are queued, so they always follow the
 *   nickname;
 * - every received line is stripped of control characters and escape sequences before it is
 *   handed on: a hostile server or peer cannot repaint our terminal either;
 * - `end()` half-closes (shuts down our sending side) and keeps reading until the server closes,
 *   so nothing the server still had to say is lost;
 * - `tls` speaks implicit TLS, as `ncat --ssl` does, and verifies the server's certificate against
 *   the system roots (or `ca`) unless told not to.
 */
import net from 'node:net';
import type tls from 'node:tls';
import { certificateError, NetkitError, notTlsThere, SOCKET_TRUST_FLAGS } from '../core/errors.js';
import { TypedEventEmitter } from '../core/events.js';
import { nodeTls } from '../core/lazy.js';
import { LineSplitter } from '../core/lines.js';
import { formatHostPort } from '../core/server.js';
import { defaultTrust, sniName } from '../core/tls-trust.js';
import { nextConnId, type TraceEvents, traceEvent } from '../core/trace.js';
import { nickProblem } from './chat-commands.js';
import { stripControls } from './chat-sanitize.js';
import { connectError } from './tcp.js';

export interface ChatClientOptions {
  /** the server's host name or IP address */
  host: string;
  /** the server's port */
  port: number;
  /** nickname to take on a netkit chat server (`/nick`); default: the one the server assigns */
  nick?: string;
  /** how long to wait for the server's first line before treating it as a plain relay (default 1000 ms) */
  greetingTimeoutMs?: number;
  /** for the TCP connection and, with `tls`, the handshake (default 10 s) */
  connectTimeoutMs?: number;
  /** longest line accepted from the server (default 64 KiB); longer ones are cut */
  maxLineLength?: number;
  /** implicit TLS, like `ncat --ssl` */
  tls?: boolean;
  /** verify the server's certificate (default true); false is for throwaway self-signed certificates */
  rejectUnauthorized?: boolean;
  /** trusted certificate(s) in PEM, instead of the system roots */
  ca?: string | Buffer | Array<string | Buffer>;
  /** the name the certificate must carry, also sent as SNI (default: host, unless it is an IP address) */
  servername?: string;
}

/** What a {@link ChatClient} emits, each event with its listener's arguments. */
export interface ChatClientEvents extends TraceEvents {
  /** a line from the server, control characters and escape sequences stripped */
  line: [line: string];
  /** the greeting is in (or its wait is over): `netkit` says whether the server is ours */
  ready: [netkit: boolean];
  /** the connection is closed */
  close: [];
}

/** A client of the line chat (see the module comment): open one with {@link ChatClient.connect}. */
export class ChatClient extends TypedEventEmitter<ChatClientEvents> {
  readonly id = nextConnId();
  /** true once the server was recognised as a netkit chat server */
  netkit = false;
  private ready = false;
  private endRequested = false;
  private queued: string[] = [];
  private readonly splitter: LineSplitter;
  private greetingTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly socket: net.Socket,
    private readonly opts: ChatClientOptions,
  ) {
    super();
    this.splitter = new LineSplitter(opts.maxLineLength ?? 65536, undefined, 0);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (err) => this.trace('error', err.message));
    socket.on('end', () => this.trace('info', 'server closed its side'));
    socket.on('close', () => {
      if (this.greetingTimer) clearTimeout(this.greetingTimer);
      this.trace('disconnect', '');
      this.emit('close');
    });
    this.greetingTimer = setTimeout(() => this.becomeReady(false), opts.greetingTimeoutMs ?? 1000);
    this.greetingTimer.unref();
  }

  /** Connect; resolves once the TCP connection (with `tls`: the verified TLS session) is up. */
  static connect(opts: ChatClientOptions): Promise<ChatClient> {
    if (opts.nick !== undefined) {
      const problem = nickProblem(opts.nick);
      if (problem) return Promise.reject(new NetkitError('NETKIT_USAGE', `--nick: ${problem}`));
    }
    const peer = formatHostPort(opts.host, opts.port);
    return new Promise((resolve, reject) => {
      const socket = opts.tls
        ? nodeTls().connect({
            host: opts.host,
            port: opts.port,
            rejectUnauthorized: opts.rejectUnauthorized ?? true,
            ...defaultTrust(opts.ca),
            servername: opts.servername ?? sniName(opts.host),
          })
        : net.connect({ host: opts.host, port: opts.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new NetkitError(
            'NETKIT_TIMEOUT',
            `no ${opts.tls ? 'TLS session' : 'connection'} with ${peer} within ${opts.connectTimeoutMs ?? 10_000} ms`,
          ),
        );
      }, opts.connectTimeoutMs ?? 10_000);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(chatConnectError(err, opts.host, opts.port, opts.tls === true));
      });
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        const client = new ChatClient(socket, opts);
        const protocol = opts.tls ? (socket as tls.TLSSocket).getProtocol() : null;
        client.trace('connect', protocol ? `tls ${protocol}` : '', peer);
        resolve(client);
      });
    });
  }

  /** Send one line (queued until the greeting is known). */
  send(line: string): void {
    const clean = line.replace(/[\r\n]+/g, ' ');
    if (!this.ready) {
      this.queued.push(clean);
      return;
    }
    this.write(clean);
  }

  /** Half-close: no more lines from us; keep reading until the server closes. */
  end(): void {
    // wait for the greeting, so a piped script still gets its nickname and lines out first
    if (!this.ready) {
      this.endRequested = true;
      return;
    }
    if (!this.socket.destroyed) this.socket.end();
  }

  close(): void {
    this.socket.destroy();
  }

  private write(line: string): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.trace('out', line);
    this.socket.write(`${line}\n`);
  }

  private becomeReady(netkit: boolean): void {
    if (this.ready) return;
    this.ready = true;
    this.netkit = netkit;
    if (this.greetingTimer) clearTimeout(this.greetingTimer);
    if (netkit && this.opts.nick) this.write(`/nick ${this.opts.nick}`);
    for (const l of this.queued) this.write(l);
    this.queued = [];
    this.emit('ready', netkit);
    if (this.endRequested) this.end();
  }

  private receive(chunk: Buffer): void {
    for (const item of this.splitter.push(chunk)) {
      const text = 'line' in item ? stripControls(item.line.toString('utf8')) : '[overlong line cut]';
      this.trace('in', text);
      if (!this.ready) this.becomeReady(/^\*\*\* Welcome to netkit chat\b/.test(text));
      this.emit('line', text);
    }
  }

  private trace(
    kind: 'connect' | 'disconnect' | 'in' | 'out' | 'error' | 'info',
    text: string,
    peer?: string,
  ) {
    traceEvent(this, 'chat', this.id, kind, text, peer);
  }
}

/** One line that says what went wrong, TLS problems in words a user can act on. */
function chatConnectError(
  err: NodeJS.ErrnoException,
  host: string,
  port: number,
  secure: boolean,
): NetkitError {
  const reason = (err as { reason?: string }).reason ?? err.message;
  const peer = formatHostPort(host, port);
  // a socket error (refused, unknown host, unreachable): the words `tcp connect` uses
  if (!secure || err.syscall) return connectError(err, host, port);
  const cert = certificateError(err, peer, SOCKET_TRUST_FLAGS);
  if (cert) return cert;
  const message = notTlsThere(err, peer)?.message ?? `TLS with ${peer} failed: ${reason}`;
  return new NetkitError('NETKIT_PROTOCOL', message, { cause: err });
}
