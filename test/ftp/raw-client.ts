/** A deliberately raw FTP client for tests: it sends exactly what a test says, including nonsense. */
import net from 'node:net';
import tls from 'node:tls';
import { LineClient } from '../helpers/net.js';

export interface Reply {
  code: number;
  text: string;
  lines: string[];
}

export class RawFtp {
  readonly lc: LineClient;
  greeting!: Reply;

  private constructor(lc: LineClient) {
    this.lc = lc;
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawFtp> {
    const c = new RawFtp(await LineClient.connect(port, host));
    c.greeting = await c.reply();
    return c;
  }

  /** Over implicit TLS (the server's tlsPort); the dev certificate is not verified unless asked. */
  static async connectTls(
    port: number,
    options: tls.ConnectionOptions = {},
    host = '127.0.0.1',
  ): Promise<RawFtp> {
    const c = new RawFtp(await LineClient.connectTls(port, { rejectUnauthorized: false, ...options }, host));
    c.greeting = await c.reply();
    return c;
  }

  /** The control connection's TLS socket (connectTls only). */
  get tlsSocket(): tls.TLSSocket {
    return this.lc.socket as tls.TLSSocket;
  }

  /** Read one complete reply (multi-line aware). */
  async reply(timeoutMs = 5000): Promise<Reply> {
    const first = await this.lc.line(timeoutMs);
    const m = /^(\d{3})([- ])(.*)$/.exec(first);
    if (!m) throw new Error(`not a reply: ${JSON.stringify(first)}`);
    const lines = [first];
    if (m[2] === '-') {
      for (;;) {
        const l = await this.lc.line(timeoutMs);
        lines.push(l);
        if (l.startsWith(`${m[1]} `)) break;
      }
    }
    return { code: Number(m[1]), text: m[3]!, lines };
  }

  send(line: string): void {
    this.lc.send(`${line}\r\n`);
  }

  async cmd(line: string, timeoutMs?: number): Promise<Reply> {
    this.send(line);
    return this.reply(timeoutMs);
  }

  async login(user: string, pass: string): Promise<Reply> {
    const u = await this.cmd(`USER ${user}`);
    if (u.code !== 331) throw new Error(`USER: ${u.lines.join(' | ')}`);
    const p = await this.cmd(`PASS ${pass}`);
    if (p.code !== 230) throw new Error(`PASS: ${p.lines.join(' | ')}`);
    return p;
  }

  /**
   * EPSV and connect the data socket; with `secure`, a TLS client (PROT P) whose handshake runs
   * once the server starts the transfer.
   */
  async epsv(secure?: tls.ConnectionOptions): Promise<net.Socket> {
    const r = await this.cmd('EPSV');
    const m = /\(\|\|\|(\d+)\|\)/.exec(r.text);
    if (r.code !== 229 || !m) throw new Error(`EPSV: ${r.lines.join(' | ')}`);
    if (!secure) return connect(Number(m[1]));
    const s = tls.connect({ port: Number(m[1]), host: '127.0.0.1', rejectUnauthorized: false, ...secure });
    s.on('error', () => {});
    // isSessionReused() answers only while the socket is open
    s.once('secureConnect', () => resumed.set(s, s.isSessionReused()));
    return s;
  }

  /** EPSV + command + read all data + final reply (`secure`: a TLS data connection). */
  async retrieve(
    command: string,
    secure?: tls.ConnectionOptions,
  ): Promise<{ data: Buffer; first: Reply; last: Reply; resumed?: boolean }> {
    const sock = await this.epsv(secure);
    const chunks: Buffer[] = [];
    sock.on('data', (d: Buffer) => chunks.push(d));
    const ended = new Promise<void>((r) => sock.once('close', () => r()));
    const first = await this.cmd(command);
    if (first.code !== 150) {
      sock.destroy();
      return { data: Buffer.alloc(0), first, last: first };
    }
    await ended;
    const last = await this.reply();
    return { data: Buffer.concat(chunks), first, last, resumed: resumed.get(sock) };
  }

  /** EPSV + command + send data + close + final reply (`secure`: a TLS data connection). */
  async store(
    command: string,
    data: Buffer | string,
    secure?: tls.ConnectionOptions,
  ): Promise<{ first: Reply; last: Reply }> {
    const sock = await this.epsv(secure);
    const first = await this.cmd(command);
    if (first.code !== 150) {
      sock.destroy();
      return { first, last: first };
    }
    sock.end(data);
    const last = await this.reply();
    return { first, last };
  }

  close(): void {
    this.lc.close();
  }
}

/** Whether a TLS data connection resumed a TLS session, recorded at its handshake. */
const resumed = new WeakMap<net.Socket, boolean>();

export function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host }, () => resolve(s));
    s.once('error', reject);
  });
}
