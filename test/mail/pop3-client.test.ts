/**
 * Pop3Client against scripted misbehaving servers: garbage, a close in the middle of a reply, silence,
 * a STLS reply followed by injected plaintext, response codes; plus input checks that happen before
 * any byte is sent.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import { Pop3Client, Pop3Error } from '../../src/mail/pop3-client.js';

type Script = (line: string, socket: net.Socket) => void;

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A server that sends `greeting` raw, then answers each received line with `script`. */
async function scripted(
  greeting: string,
  script: Script = () => {},
): Promise<{ port: number; received: string[] }> {
  const received: string[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    if (greeting) socket.write(greeting);
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let i = buf.indexOf('\r\n');
      while (i !== -1) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        received.push(line);
        script(line, socket);
        i = buf.indexOf('\r\n');
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, received };
}

const simple: Script = (line, s) => {
  if (/^(USER|PASS|NOOP|RSET|DELE)/.test(line)) s.write('+OK\r\n');
  else if (line === 'QUIT') s.end('+OK bye\r\n');
};

describe('Pop3Client with misbehaving servers', () => {
  it('rejects a greeting that is not POP3', async () => {
    const { port } = await scripted('220 smtp.example ESMTP\r\n');
    const err = await Pop3Client.connect({ port }).catch((e) => e);
    expect(err.code).toBe('NETKIT_PROTOCOL');
    expect(err.message).toMatch(/not a POP3 reply: "220 smtp/);
  });

  it('reports a -ERR greeting with its response code', async () => {
    const { port } = await scripted('-ERR [SYS/TEMP] too busy, try later\r\n');
    const err = await Pop3Client.connect({ port }).catch((e) => e);
    expect(err).toBeInstanceOf(Pop3Error);
    expect(err.responseCode).toBe('SYS/TEMP');
    expect(err.message).toBe('greeting: -ERR [SYS/TEMP] too busy, try later');
  });

  it('rejects binary garbage in a reply', async () => {
    const { port } = await scripted('+OK hi\r\n', (line, s) => {
      if (line === 'STAT') s.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x0d, 0x0a]));
    });
    const c = await Pop3Client.connect({ port });
    const err = await c.stat().catch((e) => e);
    expect(err.code).toBe('NETKIT_PROTOCOL');
    // the connection is closed after a protocol error: later commands fail at once
    await expect(c.noop()).rejects.toThrow(/not a POP3 reply/);
  });

  it('reports a close in the middle of a RETR', async () => {
    const { port } = await scripted('+OK hi\r\n', (line, s) => {
      if (line === 'RETR 1') s.end('+OK 100 octets\r\nSubject: cut\r\n\r\nhalf of the bo');
    });
    const c = await Pop3Client.connect({ port });
    const err = await c.retr(1).catch((e) => e);
    expect(err.code).toBe('NETKIT_PROTOCOL');
    expect(err.message).toMatch(/connection closed by 127\.0\.0\.1:\d+ in the middle of the reply to RETR 1/);
  });

  it('reports a close before the reply, and fails every pipelined command', async () => {
    const { port } = await scripted('+OK hi\r\n', (line, s) => {
      if (line === 'STAT') s.destroy();
    });
    const c = await Pop3Client.connect({ port });
    const [a, b] = await Promise.all([c.stat().catch((e) => e), c.noop().catch((e) => e)]);
    expect(a.message).toMatch(/before replying to STAT/);
    expect(b).toBe(a);
  });

  it('names the server and the command when the server hangs up between two commands', async () => {
    const { port } = await scripted('+OK hi\r\n', (line, s) => {
      if (line === 'NOOP') s.end('+OK\r\n');
    });
    const c = await Pop3Client.connect({ port });
    await c.noop();
    await c.whenClosed;
    const err = await c.stat().catch((e) => e);
    expect(err.code).toBe('NETKIT_PROTOCOL');
    expect(err.message).toBe(`connection closed by 127.0.0.1:${port} before STAT could be sent`);
    // a connection the client closed itself says so
    const mine = await Pop3Client.connect({ port });
    mine.close();
    const own = await mine.retr(2).catch((e) => e);
    expect(own.message).toBe(`connection to 127.0.0.1:${port} already closed by the client: RETR 2 not sent`);
  });

  it('times out a server that never answers (and only while waiting)', async () => {
    const { port } = await scripted('+OK hi\r\n');
    const c = await Pop3Client.connect({ port, timeout: 150 });
    const t = Date.now();
    const err = await c.stat().catch((e) => e);
    expect(err.code).toBe('NETKIT_TIMEOUT');
    expect(err.message).toMatch(/no reply .* to STAT within 150 ms/);
    expect(Date.now() - t).toBeLessThan(2000);
  });

  it('times out a silent greeting', async () => {
    const { port } = await scripted('');
    const err = await Pop3Client.connect({ port, timeout: 150 }).catch((e) => e);
    expect(err.code).toBe('NETKIT_TIMEOUT');
    expect(err.message).toMatch(/greeting/);
  });

  it('refuses plaintext injected after the STLS reply', async () => {
    const { port } = await scripted('+OK hi\r\n', (line, s) => {
      if (line === 'STLS') s.write('+OK Begin TLS\r\n+OK injected\r\n');
    });
    const c = await Pop3Client.connect({ port });
    const err = await c.stls().catch((e) => e);
    expect(err.code).toBe('NETKIT_PROTOCOL');
    expect(c.secure).toBe(false);
  });

  it('carries response codes; IN-USE is not a credentials failure, AUTH is', async () => {
    let attempt = 0;
    const { port } = await scripted('+OK hi\r\n', (line, s) => {
      if (line.startsWith('USER')) s.write('+OK\r\n');
      else if (line.startsWith('PASS'))
        s.write(attempt++ === 0 ? '-ERR [IN-USE] Mailbox locked\r\n' : '-ERR [AUTH] Invalid login\r\n');
    });
    const c = await Pop3Client.connect({ port });
    const inUse = await c.login('bob', 'pw').catch((e) => e);
    expect(inUse).toBeInstanceOf(Pop3Error);
    expect(inUse.responseCode).toBe('IN-USE');
    expect(inUse.serverText).toBe('Mailbox locked');
    expect(inUse.code).toBe('NETKIT_PROTOCOL');
    const auth = await c.login('bob', 'pw').catch((e) => e);
    expect(auth.responseCode).toBe('AUTH');
    expect(auth.code).toBe('NETKIT_AUTH');
    c.close();
  });

  it('rejects malformed STAT, LIST and UIDL replies', async () => {
    const { port } = await scripted('+OK hi\r\n', (line, s) => {
      if (line === 'STAT') s.write('+OK lots of mail\r\n');
      if (line === 'LIST') s.write('+OK\r\none two\r\n.\r\n');
      if (line === 'UIDL') s.write('+OK\r\n1\r\n.\r\n');
    });
    const c = await Pop3Client.connect({ port });
    await expect(c.stat()).rejects.toThrow(/malformed STAT reply/);
    await expect(c.list()).rejects.toThrow(/malformed LIST reply/);
    await expect(c.uidl()).rejects.toThrow(/malformed UIDL reply/);
    c.close();
  });

  it('escapes control and bidi characters of server text in errors and traces', async () => {
    const { port } = await scripted('+OK \u001b]0;owned\u0007hi\r\n', (line, s) => {
      if (line.startsWith('USER')) s.write('-ERR \u001b[2J\u009b31m\u202eno such user\r\n');
      else if (line === 'QUIT') s.end('+OK bye\r\n');
    });
    const events: TraceEvent[] = [];
    const c = await Pop3Client.connect({ port, onTrace: (e) => events.push(e) });
    const err = await c.user('bob').catch((e) => e);
    expect(err).toBeInstanceOf(Pop3Error);
    expect(err.message).toBe('USER bob: -ERR \\x1b[2J\\x9b31m\\u202eno such user');
    expect(err.serverText).toBe('\u001b[2J\u009b31m\u202eno such user'); // the raw text stays available
    await c.quit();
    const text = events.map((e) => e.text).join('\n');
    expect(text).toContain('+OK \\x1b]0;owned\\x07hi');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
  });

  it('refuses CR/LF in arguments before sending anything', async () => {
    const { port, received } = await scripted('+OK hi\r\n', simple);
    const c = await Pop3Client.connect({ port });
    for (const p of [c.user('bob\r\nDELE 1'), c.pass('pw\nDELE 1'), c.command('NOOP\r\nDELE 1')]) {
      const err = await p.catch((e) => e);
      expect(err.code).toBe('NETKIT_INVALID_INPUT');
    }
    await expect(c.retr(0)).rejects.toThrow(/positive integer/);
    await c.noop();
    await c.quit();
    expect(received).toEqual(['NOOP', 'QUIT']);
  });

  it('never traces the password', async () => {
    const { port } = await scripted('+OK hi\r\n', simple);
    const c = await Pop3Client.connect({ port });
    const events: TraceEvent[] = [];
    c.on('trace', (e) => events.push(e));
    await c.login('bob', 'hunter2');
    await c.quit();
    const text = events.map((e) => `${e.kind} ${e.text}`).join('\n');
    expect(text).toContain('out USER bob');
    expect(text).toContain('out PASS ****');
    expect(text).not.toContain('hunter2');
  });

  it('reports a refused connection', async () => {
    const { port } = await scripted('+OK\r\n');
    await new Promise((r) => servers.pop()!.close(r));
    const err = await Pop3Client.connect({ port }).catch((e) => e);
    expect(err.code).toBe('NETKIT_CONNECT_FAILED');
    expect(err.message).toMatch(/connection refused/);
  });
});
