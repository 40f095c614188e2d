/** A deliberately raw FTP client for tests: it sends exactly what a test says, including nonsense. */
import net from 'node:net';
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

  /** EPSV and connect the data socket. */
  async epsv(): Promise<net.Socket> {
    const r = await this.cmd('EPSV');
    const m = /\(\|\|\|(\d+)\|\)/.exec(r.text);
    if (r.code !== 229 || !m) throw new Error(`EPSV: ${r.lines.join(' | ')}`);
    return connect(Number(m[1]));
  }

  /** EPSV + command + read all data + final reply. */
  async retrieve(command: string): Promise<{ data: Buffer; first: Reply; last: Reply }> {
    const sock = await this.epsv();
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
    return { data: Buffer.concat(chunks), first, last };
  }

  /** EPSV + command + send data + close + final reply. */
  async store(command: string, data: Buffer | string): Promise<{ first: Reply; last: Reply }> {
    const sock = await this.epsv();
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

export function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host }, () => resolve(s));
    s.once('error', reject);
  });
}
