/** A raw SMTP test client over {@link LineClient}: read whole (multi-line) replies, send commands. */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { generateDevCertificate } from '../../src/core/tls.js';
import { LineClient, tempDir } from '../helpers/net.js';

export interface Reply {
  code: number;
  lines: string[];
  /** the last line, code included */
  last: string;
}

export class SmtpTestClient {
  private constructor(readonly c: LineClient) {}

  static async open(port: number, host?: string): Promise<{ client: SmtpTestClient; greeting: Reply }> {
    const client = new SmtpTestClient(await LineClient.connect(port, host));
    return { client, greeting: await client.reply() };
  }

  /** Connect and write `raw` at once, before the greeting: an early talker (`printf '…' | nc`). */
  static async talkFirst(port: number, raw: string): Promise<SmtpTestClient> {
    const client = new SmtpTestClient(await LineClient.connect(port));
    client.send(raw);
    return client;
  }

  async reply(timeoutMs = 5000): Promise<Reply> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.c.line(timeoutMs);
      lines.push(l);
      if (/^\d{3}(?: |$)/.test(l)) return { code: Number(l.slice(0, 3)), lines, last: l };
    }
  }

  /** Every reply the server sent until it closed the connection (the last line of each). */
  async repliesUntilClosed(): Promise<string[]> {
    await this.c.closed;
    return this.c.takeBuffered().filter((l) => /^\d{3}(?: |$)/.test(l));
  }

  async cmd(line: string): Promise<Reply> {
    this.c.send(`${line}\r\n`);
    return this.reply();
  }

  send(raw: string | Buffer): void {
    this.c.socket.write(raw);
  }

  /** EHLO, MAIL, RCPT…, DATA, message, final dot; returns the reply to the final dot. */
  async sendMail(from: string, to: string[], message: string, ehlo = true): Promise<Reply> {
    if (ehlo) await this.cmd('EHLO client.test');
    const m = await this.cmd(`MAIL FROM:<${from}>`);
    if (m.code !== 250) return m;
    for (const r of to) {
      const rr = await this.cmd(`RCPT TO:<${r}>`);
      if (rr.code !== 250) return rr;
    }
    const d = await this.cmd('DATA');
    if (d.code !== 354) return d;
    const body = message.replace(/^\./gm, '..');
    this.send(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    return this.reply();
  }

  async quit(): Promise<void> {
    await this.cmd('QUIT').catch(() => undefined);
    this.c.close();
  }

  close(): void {
    this.c.close();
  }

  get closed(): Promise<void> {
    return this.c.closed;
  }
}

/** Files in a mailbox's new/ (and tmp/ for leftovers). */
export async function mailboxFiles(dataDir: string, mailbox: string, folder = 'new'): Promise<string[]> {
  try {
    return (await readdir(path.join(dataDir, 'mail', mailbox, folder))).sort();
  } catch {
    return [];
  }
}

/** A dev certificate written once to a temp dir, shared by the servers of a test file. */
export async function sharedCertificate(): Promise<{
  cert: string;
  key: string;
  cleanup: () => Promise<void>;
}> {
  const { dir, cleanup } = await tempDir('netkit-smtp-cert-');
  const { cert, key } = await generateDevCertificate();
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path.join(dir, 'cert.pem'), cert);
  await writeFile(path.join(dir, 'key.pem'), key, { mode: 0o600 });
  return { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), cleanup };
}
