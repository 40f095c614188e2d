/**
 * `close()` of every server with a client that reads the goodbye and keeps its socket open, as
 * Python's smtplib, poplib and ftplib do until their next command: each server says its goodbye,
 * closes the connection, and `close()` resolves without waiting for the client's FIN. Before, a
 * server held the socket half-closed until a linger timer (5 s) or the drain deadline dropped it,
 * so every shutdown with such a client connected took seconds. Here no timer fires while the
 * server closes (fake `setTimeout`): `close()` has to finish on socket events alone. Plain
 * sockets, implicit TLS and STARTTLS-style upgrades (the TLS socket is the one that ends).
 */
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadTls, type TlsMaterial } from '../../src/core/tls.js';
import { createFtpServer } from '../../src/ftp/server.js';
import { createFileServer } from '../../src/http/file-server.js';
import { createPop3Server } from '../../src/mail/pop3-server.js';
import { createSmtpServer } from '../../src/mail/smtp-server.js';
import { createChatServer } from '../../src/sockets/chat-server.js';
import { startService } from '../../src/sockets/classic.js';
import { tcpListen } from '../../src/sockets/tcp.js';
import { tempDir } from '../helpers/net.js';

/** tls.connect() passes `allowHalfOpen` on to its socket; its type does not list it */
const HELD_TLS = { rejectUnauthorized: false, allowHalfOpen: true } as tls.ConnectionOptions;

/** far beyond the test timeout: `close()` must not wait for it */
const DEADLINE = 60_000;

/** A client that never closes its side, even after the server's FIN (allowHalfOpen). */
class HeldClient {
  text = '';
  /** resolves when the server has ended its side */
  readonly ended: Promise<void>;
  private socket: net.Socket;
  private wake: () => void = () => {};

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.ended = this.listen(socket);
  }

  static connect(port: number): Promise<HeldClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () =>
        resolve(new HeldClient(s)),
      );
      s.once('error', reject);
    });
  }

  static connectTls(port: number): Promise<HeldClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ port, host: '127.0.0.1', ...HELD_TLS }, () => resolve(new HeldClient(s)));
      s.once('error', reject);
    });
  }

  /** STARTTLS, STLS, AUTH TLS: the server said yes; the rest goes over TLS (and `text` starts anew). */
  async upgrade(): Promise<void> {
    this.text = '';
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('end');
    this.socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: raw, ...HELD_TLS }, () => resolve(s));
      s.once('error', reject);
    });
    (this as { ended: Promise<void> }).ended = this.listen(this.socket);
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** Wait until what arrived matches `re`. */
  async until(re: RegExp): Promise<void> {
    while (!re.test(this.text)) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  destroy(): void {
    this.socket.destroy();
  }

  private listen(socket: net.Socket): Promise<void> {
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      this.text += d.toString('latin1');
      this.wake();
    });
    return new Promise((resolve) => socket.once('end', () => resolve()));
  }
}

let dir: string;
let cleanup: () => Promise<void>;
let material: TlsMaterial;
const clients: HeldClient[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-shutdown-'));
  material = await loadTls(dir);
});
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});
afterAll(() => cleanup());

const held = async (port: number, secure = false): Promise<HeldClient> => {
  const c = secure ? await HeldClient.connectTls(port) : await HeldClient.connect(port);
  clients.push(c);
  return c;
};

/**
 * `server.close()` with no timer firing meanwhile: it ends the connection of every held client
 * and resolves once all is closed, by socket events alone.
 */
async function closeWithTimersStopped(
  server: { close(deadlineMs?: number): Promise<void> },
  ...held: HeldClient[]
): Promise<void> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  try {
    const closing = server.close(DEADLINE);
    await Promise.all(held.map((c) => c.ended));
    await closing;
  } finally {
    vi.useRealTimers();
  }
}

describe('close() with a client that keeps its socket open', () => {
  it('smtp: 421, over plain, implicit TLS and STARTTLS', async () => {
    // the development certificate loadTls() made in the data directory
    const smtp = await createSmtpServer({ dataDir: dir, port: 0, tlsPort: 0 });
    const plain = await held(smtp.port);
    await plain.until(/^220 /);
    plain.send('EHLO client.test\r\n');
    await plain.until(/\r\n250 /);
    const implicit = await held(smtp.tlsPort!, true);
    await implicit.until(/^220 /);
    const upgraded = await held(smtp.port);
    await upgraded.until(/^220 /);
    upgraded.send('STARTTLS\r\n');
    await upgraded.until(/\r\n220 /);
    await upgraded.upgrade();
    upgraded.send('EHLO client.test\r\n');
    await upgraded.until(/^250 /m);
    await closeWithTimersStopped(smtp, plain, implicit, upgraded);
    for (const c of [plain, implicit, upgraded])
      expect(c.text).toMatch(/\r\n421 4\.4\.2 Server shutting down\r\n$/);
  });

  it('pop3: -ERR [SYS/TEMP], over plain and after STLS', async () => {
    const pop3 = await createPop3Server({ dataDir: path.join(dir, 'pop3'), port: 0, tls: material });
    const plain = await held(pop3.port);
    await plain.until(/^\+OK /);
    const upgraded = await held(pop3.port);
    await upgraded.until(/^\+OK /);
    upgraded.send('STLS\r\n');
    await upgraded.until(/\r\n\+OK /);
    await upgraded.upgrade();
    upgraded.send('NOOP\r\n');
    await upgraded.until(/^-ERR /);
    await closeWithTimersStopped(pop3, plain, upgraded);
    for (const c of [plain, upgraded]) expect(c.text).toMatch(/-ERR \[SYS\/TEMP\] server shutting down\r\n$/);
  });

  it('ftp: 421, over plain and after AUTH TLS', async () => {
    const root = path.join(dir, 'ftp');
    await mkdir(root, { recursive: true });
    const ftp = await createFtpServer({
      root,
      dataDir: path.join(dir, 'ftp-data'),
      port: 0,
      tls: material.context,
    });
    const plain = await held(ftp.port);
    await plain.until(/^220 /m);
    const upgraded = await held(ftp.port);
    await upgraded.until(/^220 /m);
    upgraded.send('AUTH TLS\r\n');
    await upgraded.until(/^234 /m);
    await upgraded.upgrade();
    upgraded.send('NOOP\r\n');
    await upgraded.until(/^200 /m);
    await closeWithTimersStopped(ftp, plain, upgraded);
    for (const c of [plain, upgraded]) expect(c.text).toMatch(/421 Server shutting down\r\n$/);
  });

  it('chat: the goodbye line, over plain and implicit TLS', async () => {
    const chat = await createChatServer({ tls: material, tlsPort: 0 });
    const plain = await held(chat.port);
    await plain.until(/You joined #/);
    const secure = await held(chat.tlsPort!, true);
    await secure.until(/You joined #/);
    await closeWithTimersStopped(chat, plain, secure);
    for (const c of [plain, secure]) expect(c.text).toMatch(/\*\*\* Server shutting down\. Goodbye!\r\n$/);
  });

  it('http: an idle keep-alive connection', async () => {
    const root = path.join(dir, 'www');
    await mkdir(root, { recursive: true });
    // Node's keep-alive timer (not setTimeout) must not be what closes the connection
    const http = await createFileServer({ root, port: 0, keepAliveTimeoutMs: DEADLINE });
    const c = await held(http.port);
    c.send('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await c.until(/^HTTP\/1\.1 200 [\s\S]*<\/html>\n$/);
    await closeWithTimersStopped(http, c);
  });

  it('classic echo and tcp listen --echo', async () => {
    const echo = await startService('echo', { udp: false });
    await closeWithTimersStopped(echo, await held(echo.tcp!.port));
    const listener = await tcpListen({ echo: true });
    const c = await held(listener.port);
    c.send('hi\n');
    await c.until(/hi\n/);
    await closeWithTimersStopped(listener, c);
  });
});
