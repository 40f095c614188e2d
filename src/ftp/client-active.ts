/**
 * Active-mode data connections for {@link FtpClient}: we listen, announce the address with PORT
 * (IPv4) or EPRT (IPv6, RFC 2428) — as ftplib and lftp choose — and the server connects to us.
 * basic-ftp has no active mode, so this module adds it through its one hook, `prepareTransfer`.
 *
 * Why a stand-in socket: basic-ftp's transfer functions (downloads, uploads, listings) need
 * `ftp.dataSocket` before they send RETR, STOR or LIST, but in active mode the server connects
 * only after that command. {@link ActiveDataSocket} is set as the data socket at once: a Duplex
 * that basic-ftp pipes out of or into as usual, bridged to the server's connection when it arrives
 * (an upload's first bytes wait in it until then). Under PROT P we are the TLS client on that
 * connection even though the server dialled (RFC 4217 §4), resuming the control connection's TLS
 * session as basic-ftp does in passive mode (vsftpd's `require_ssl_reuse` insists on it).
 *
 * Safety: the listener binds the control connection's local address, accepts one connection and
 * only from the control connection's server address — anyone else is refused and the wait goes on,
 * so no third party can feed a download — and closes when the transfer ends.
 */

import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { FTPContext, FTPResponse } from 'basic-ftp';
import { NetkitError } from '../core/errors.js';
import { formatActiveCommand, normalizeIp, sameIp } from './data-address.js';
import { DataPortPool } from './data-channel.js';

export interface ActiveModeOptions {
  /** address to announce in PORT/EPRT instead of the control connection's local address (NAT) */
  address?: string;
  /** local ports to listen on, inclusive (default: any free port) */
  ports?: readonly [number, number];
}

type Strategy = (ftp: FTPContext) => Promise<FTPResponse>;

/**
 * The data socket basic-ftp sees in active mode: a Duplex bridged to the server's connection once
 * it arrives. It offers what basic-ftp reads from a socket (byte counts for progress and its
 * stall watchdog, the remote address for its log, `setTimeout`).
 */
export class ActiveDataSocket extends Duplex {
  private real: net.Socket | undefined;
  private sawEnd = false;
  /** work that waits for the connection: an upload's first write, or its end */
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly listener: net.Server,
    /** the control connection's server address: the only one allowed to connect */
    private readonly expectedPeer: string,
    /** turns the accepted socket into the one to use (TLS under PROT P) */
    private readonly secure: (raw: net.Socket) => net.Socket,
    private readonly note: (text: string) => void,
  ) {
    super();
    listener.on('connection', (raw) => this.onConnection(raw));
  }

  private onConnection(raw: net.Socket): void {
    raw.on('error', () => {});
    const from = normalizeIp(raw.remoteAddress ?? '');
    if (this.real || this.destroyed || !sameIp(from, this.expectedPeer)) {
      if (!this.real && !this.destroyed)
        this.note(`active mode: refused a data connection from ${from}, not the server`);
      raw.destroy();
      return;
    }
    this.listener.close();
    const socket = this.secure(raw);
    this.real = socket;
    const described = `active data connection from ${from}:${raw.remotePort}`;
    if (socket instanceof tls.TLSSocket)
      socket.once('secureConnect', () => this.note(`${described} (${socket.getProtocol()})`));
    else this.note(described);
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => {
      this.sawEnd = true;
      this.push(null);
    });
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => {
      if (!this.sawEnd && !this.destroyed)
        this.destroy(new Error('the data connection closed before its end'));
    });
    for (const run of this.waiting.splice(0)) run();
  }

  private whenConnected(run: () => void): void {
    if (this.real) run();
    else this.waiting.push(run);
  }

  override _read(): void {
    this.real?.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.whenConnected(() => {
      if (this.real!.write(chunk)) done();
      else this.real!.once('drain', () => done());
    });
  }

  override _final(done: (err?: Error | null) => void): void {
    this.whenConnected(() => this.real!.end(() => done()));
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.real?.destroy();
    this.listener.close();
    this.waiting.length = 0;
    done(err);
  }

  get bytesRead(): number {
    return this.real?.bytesRead ?? 0;
  }

  get bytesWritten(): number {
    return this.real?.bytesWritten ?? 0;
  }

  get remoteAddress(): string | undefined {
    return this.real?.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.real?.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.real?.remoteFamily;
  }

  /** basic-ftp's watchdog times transfers; an unconnected stand-in has nothing to time out */
  setTimeout(_ms: number): this {
    return this;
  }
}

/** The `prepareTransfer` strategy for active mode; `note` hears about connections (trace). */
export function activeMode(options: ActiveModeOptions, note: (text: string) => void): Strategy {
  if (options.address !== undefined && !net.isIP(normalizeIp(options.address)))
    throw new NetkitError(
      'NETKIT_USAGE',
      `active mode announces an IP address, not "${options.address}" (PORT and EPRT carry no names)`,
    );
  const pool = new DataPortPool(options.ports);
  return async (ftp) => {
    const control = ftp.socket;
    const local = normalizeIp(control.localAddress ?? '');
    const peer = control.remoteAddress ?? '';
    if (!local || !peer) throw new Error('active mode needs a connected control connection');
    const listener = net.createServer();
    listener.on('error', () => {});
    const port = await pool.listen(listener, local);
    const wrap = (raw: net.Socket): net.Socket => {
      if (!(control instanceof tls.TLSSocket)) return raw;
      const secure = tls.connect({
        ...ftp.tlsOptions,
        socket: raw,
        session: ftp.tlsSessionStore ?? control.getSession(),
      });
      secure.on('session', (session: Buffer) => {
        ftp.tlsSessionStore = session;
      });
      return secure;
    };
    // basic-ftp's FTPContext closes the previous data socket and adopts this one
    ftp.dataSocket = new ActiveDataSocket(listener, peer, wrap, note) as unknown as net.Socket;
    try {
      return await ftp.request(formatActiveCommand(options.address ?? local, port));
    } catch (err) {
      ftp.dataSocket = undefined; // closes the listener too
      throw err;
    }
  };
}
