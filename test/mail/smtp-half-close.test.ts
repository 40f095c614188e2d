/**
 * Clients that write their whole session and then half-close (`printf '…' | nc -N`,
 * `shutdown(SHUT_WR)`): every reply owed for what they sent arrives, in order, and the server then
 * closes — after QUIT, without QUIT, after a last line without a line end, and at once when the
 * FIN cuts a message short (which is never stored). Over plain TCP, implicit TLS and Python's
 * `socket`, and for a crowd of such clients (no slot left behind).
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSmtpServer, type SmtpServerHandle } from '../../src/mail/smtp-server.js';
import { run, tempDir } from '../helpers/net.js';
import { mailboxFiles, sharedCertificate } from './smtp-test-client.js';

/** A message transaction for `rcpt`, final dot included. */
const tx = (rcpt: string, n = 1): string =>
  `MAIL FROM:<a@example.org>\r\nRCPT TO:<${rcpt}@lab.test>\r\nDATA\r\nSubject: ${n}\r\n\r\nbody ${n}\r\n.\r\n`;

/** The codes of one transaction's replies: MAIL, RCPT, DATA, final dot. */
const TX_CODES = ['250', '250', '354', '250'];

/** Replies to EHLO are multi-line; the other commands here get one line each. */
function replyCodes(received: string): string[] {
  return received
    .split('\r\n')
    .filter((l) => /^\d{3} /.test(l))
    .map((l) => l.slice(0, 3));
}

/**
 * Write `raw`, half-close, and read until the server closes. Rejects if it has not closed within
 * `deadlineMs` — far below the servers' idle timeout, so only the half-close can have ended it.
 */
function halfClosedSession(
  connect: () => net.Socket,
  raw: string,
  deadlineMs = 5000,
): Promise<{ received: string; codes: string[] }> {
  return new Promise((resolve, reject) => {
    const socket = connect();
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      received += d;
    });
    socket.on('error', reject);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`server did not close the half-closed session; received:\n${received}`));
    }, deadlineMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ received, codes: replyCodes(received) });
    });
    socket.end(raw);
  });
}

let server: SmtpServerHandle;
let dir: string;
let cert: Awaited<ReturnType<typeof sharedCertificate>>;
const cleanups: Array<() => Promise<void>> = [];
const plain = (): net.Socket => net.connect(server.port, '127.0.0.1');

beforeAll(async () => {
  cert = await sharedCertificate();
  const d = await tempDir('netkit-smtp-halfclose-');
  dir = d.dir;
  cleanups.push(d.cleanup, cert.cleanup);
  server = await createSmtpServer({
    dataDir: dir,
    port: 0,
    tlsPort: 0,
    tls: { cert: cert.cert, key: cert.key },
    // the idle timeout must not be what ends the sessions below
    socketTimeout: 60_000,
  });
});

afterAll(async () => {
  await server?.close(100);
  for (const c of cleanups) await c();
});

describe('smtp server: clients that half-close after writing their session', () => {
  it('one message then QUIT: every reply, the 250 after DATA and the 221 included, then close', async () => {
    const { codes, received } = await halfClosedSession(plain, `EHLO me\r\n${tx('hc1')}QUIT\r\n`);
    expect(codes).toEqual(['220', '250', ...TX_CODES, '221']);
    expect(received).toMatch(/^250 2\.6\.0 Ok: stored in mailbox hc1 /m);
    expect(await mailboxFiles(dir, 'hc1')).toHaveLength(1);
  });

  it('two messages then QUIT: both stored and answered', async () => {
    const { codes } = await halfClosedSession(plain, `EHLO me\r\n${tx('hc2', 1)}${tx('hc2', 2)}QUIT\r\n`);
    expect(codes).toEqual(['220', '250', ...TX_CODES, ...TX_CODES, '221']);
    expect(await mailboxFiles(dir, 'hc2')).toHaveLength(2);
  });

  it('no QUIT: the replies arrive, then the server closes at once instead of idling', async () => {
    const { codes } = await halfClosedSession(plain, `EHLO me\r\n${tx('hc3')}NOOP\r\n`);
    expect(codes).toEqual(['220', '250', ...TX_CODES, '250']);
    expect(await mailboxFiles(dir, 'hc3')).toHaveLength(1);
  });

  it('a last line without a line end is answered before the close', async () => {
    expect((await halfClosedSession(plain, 'EHLO me\r\nNOOP')).codes).toEqual(['220', '250', '250']);
    expect((await halfClosedSession(plain, 'EHLO me\r\nQUIT')).codes).toEqual(['220', '250', '221']);
  });

  it('a client that half-closes before saying anything gets the greeting, then the close', async () => {
    expect((await halfClosedSession(plain, '')).codes).toEqual(['220']);
  });

  it('a FIN in the middle of DATA: nothing stored, no reply to the message, closed', async () => {
    const cut = `EHLO me\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<hccut@lab.test>\r\nDATA\r\nSubject: cut\r\n\r\nno final dot\r\n`;
    const traces: string[] = [];
    const onTrace = (t: { kind: string; text: string }): void => {
      traces.push(t.text);
    };
    server.on('trace', onTrace);
    const { codes } = await halfClosedSession(plain, cut);
    expect(codes).toEqual(['220', '250', '250', '250', '354']);
    // the delivery fails once the stream is destroyed; wait for that report, not for time
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (traces.some((t) => /message not stored/.test(t))) {
          server.off('trace', check);
          resolve();
        }
      };
      server.on('trace', check);
      check();
    });
    server.off('trace', onTrace);
    expect(await mailboxFiles(dir, 'hccut')).toEqual([]);
    expect(await mailboxFiles(dir, 'hccut', 'tmp')).toEqual([]);
  });

  it('over implicit TLS too: replies after the close_notify/FIN, then close', async () => {
    const secure = (): net.Socket =>
      tls.connect({ port: server.tlsPort!, host: '127.0.0.1', rejectUnauthorized: false });
    const { codes } = await halfClosedSession(secure, `EHLO me\r\n${tx('hctls')}QUIT\r\n`);
    expect(codes).toEqual(['220', '250', ...TX_CODES, '221']);
    const noQuit = await halfClosedSession(secure, 'EHLO me\r\nNOOP\r\n');
    expect(noQuit.codes).toEqual(['220', '250', '250']);
    expect(await mailboxFiles(dir, 'hctls')).toHaveLength(1);
  });

  it('after STARTTLS: a session half-closed inside TLS is answered; a FIN instead of a handshake closes at once', async () => {
    const raw = net.connect(server.port, '127.0.0.1');
    await new Promise<void>((resolve) => {
      let greeting = '';
      raw.on('data', function ready(d: Buffer) {
        greeting += d.toString();
        if (/^220 2\.0\.0 /m.test(greeting)) {
          raw.off('data', ready);
          resolve();
        }
      });
      raw.write('EHLO me\r\nSTARTTLS\r\n');
    });
    const inside = (): net.Socket => tls.connect({ socket: raw, rejectUnauthorized: false });
    const { codes } = await halfClosedSession(inside, `EHLO me\r\n${tx('hcstarttls')}NOOP\r\n`);
    // no greeting inside TLS: the 220 came before the handshake
    expect(codes).toEqual(['250', ...TX_CODES, '250']);
    expect(await mailboxFiles(dir, 'hcstarttls')).toHaveLength(1);
    // the FIN in the same write as STARTTLS, and after its 220
    const together = await halfClosedSession(plain, 'EHLO me\r\nSTARTTLS\r\n');
    expect(together.codes).toEqual(['220', '250', '220']);
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(server.port, '127.0.0.1');
      let got = '';
      const timer = setTimeout(() => reject(new Error('no close after a FIN instead of a handshake')), 5000);
      s.on('data', (d: Buffer) => {
        got += d.toString();
        if (/^220 2\.0\.0 /m.test(got)) s.end();
      });
      s.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      s.write('EHLO me\r\nSTARTTLS\r\n');
    });
  });

  it("Python's socket with shutdown(SHUT_WR) reads every reply and the server's close", async () => {
    const script = `
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode())
s.shutdown(socket.SHUT_WR)
data = b''
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
`;
    const r = await run('python3', ['-c', script, String(server.port), `EHLO py\r\n${tx('hcpy')}QUIT\r\n`]);
    expect(r.stderr).toBe('');
    expect(replyCodes(r.stdout)).toEqual(['220', '250', ...TX_CODES, '221']);
    expect(await mailboxFiles(dir, 'hcpy')).toHaveLength(1);
  });

  it('a crowd of half-closing clients (idle, mid-line, mid-DATA, mid-handshake) leaves no session open', async () => {
    const raws = ['', 'EHLO me\r\nMAIL FR', `EHLO me\r\n${tx('hcmany').slice(0, -5)}`, 'EHLO me\r\n'];
    // the server's own record of each session's end (its slot released): a 'disconnect' trace
    let disconnects = 0;
    let allGone: () => void = () => {};
    const gone = new Promise<void>((resolve) => {
      allGone = resolve;
    });
    const onTrace = (t: { kind: string }): void => {
      if (t.kind === 'disconnect' && ++disconnects === 40) allGone();
    };
    server.on('trace', onTrace);
    const sessions = Array.from({ length: 40 }, (_, i) =>
      halfClosedSession(plain, raws[i % raws.length]!).then((s) => s.codes[0]),
    );
    // TLS clients that half-close before their handshake
    const handshakes = Array.from(
      { length: 10 },
      () =>
        new Promise<void>((resolve, reject) => {
          const s = net.connect(server.tlsPort!, '127.0.0.1');
          const timer = setTimeout(() => reject(new Error('TLS port kept a half-closed socket')), 5000);
          s.on('error', () => {});
          s.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          s.end();
        }),
    );
    expect(new Set(await Promise.all(sessions))).toEqual(new Set(['220']));
    await Promise.all(handshakes);
    await gone;
    server.off('trace', onTrace);
    expect(server.connections).toBe(0);
    expect(await mailboxFiles(dir, 'hcmany')).toEqual([]);
  });
});
