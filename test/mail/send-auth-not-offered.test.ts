/**
 * Credentials given, and a server whose EHLO reply lists no AUTH: the send must fail before MAIL
 * FROM (NETKIT_AUTH, one line, exit 1) instead of going out without a login, as nodemailer's
 * transport would. The server here is purpose-built: plaintext with or without STARTTLS in its
 * EHLO reply, or implicit TLS, never AUTH; it records every command line it receives.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import { sendMail } from '../../src/mail/send.js';
import { netkit, tempDir } from '../helpers/net.js';

interface NoAuthServer {
  port: number;
  /** every command line received, in order (message text left out) */
  lines: string[];
  close(): Promise<void>;
}

let pem: { cert: string; key: string };
let empty: { dir: string; cleanup: () => Promise<void> };
const servers: NoAuthServer[] = [];

beforeAll(async () => {
  pem = await generateDevCertificate();
  empty = await tempDir('netkit-noauth-');
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await empty.cleanup();
});

/** An MTA that accepts any mail and offers `extensions` (never AUTH); over implicit TLS if `secure`. */
async function noAuthServer(extensions: string[], secure = false): Promise<NoAuthServer> {
  const lines: string[] = [];
  const sockets = new Set<net.Socket>();
  const session = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    const say = (...reply: string[]) => s.write(reply.map((l) => `${l}\r\n`).join(''));
    say('220 noauth ESMTP');
    let buf = '';
    let inData = false;
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            say('250 2.0.0 queued');
          }
          continue;
        }
        lines.push(line);
        const verb = /^(EHLO|STARTTLS|DATA|QUIT)\b/i.exec(line)?.[1]?.toUpperCase();
        if (verb === 'EHLO')
          say(...['noauth', ...extensions].map((e, n, all) => `250${n === all.length - 1 ? ' ' : '-'}${e}`));
        else if (verb === 'STARTTLS') say('454 4.7.0 TLS not available');
        else if (verb === 'DATA') {
          inData = true;
          say('354 go ahead');
        } else if (verb === 'QUIT') {
          say('221 bye');
          s.end();
        } else say('250 ok');
      }
    });
  };
  const server = secure
    ? tls.createServer({ cert: pem.cert, key: pem.key }, session)
    : net.createServer(session);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const handle: NoAuthServer = {
    port: (server.address() as net.AddressInfo).port,
    lines,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

const message = { from: 'alice@lab', to: ['bob@lab'], text: 'hi' };
const verbs = (s: NoAuthServer) => s.lines.map((l) => l.split(/[ :]/)[0]);

describe('a server that does not offer AUTH', () => {
  it('library: NETKIT_AUTH before MAIL FROM, ending with QUIT; without credentials the mail goes', async () => {
    const s = await noAuthServer(['PIPELINING']);
    const err = await sendMail({ ...message, port: s.port, user: 'bob', password: 'pw' }).catch((e) => e);
    expect(err).toMatchObject({
      code: 'NETKIT_AUTH',
      message: `127.0.0.1:${s.port} does not offer AUTH (no TLS was negotiated and the server offers no STARTTLS; it may offer AUTH only on its implicit-TLS port (--tls)); nothing was sent`,
    });
    expect(verbs(s)).toEqual(['EHLO', 'QUIT']);

    s.lines.length = 0;
    const ok = await sendMail({ ...message, port: s.port });
    expect(ok.response).toMatch(/^250 /);
    expect(verbs(s).slice(0, 4)).toEqual(['EHLO', 'MAIL', 'RCPT', 'DATA']);
  });

  it('names STARTTLS when ignoreTLS (--no-tls) left it unused', async () => {
    const s = await noAuthServer(['STARTTLS']);
    const err = await sendMail({
      ...message,
      port: s.port,
      ignoreTLS: true,
      user: 'bob',
      password: 'pw',
    }).catch((e) => e);
    expect(err).toMatchObject({
      code: 'NETKIT_AUTH',
      message: `127.0.0.1:${s.port} does not offer AUTH (it may offer AUTH only after STARTTLS, which --no-tls turned off); nothing was sent`,
    });
    expect(verbs(s)).toEqual(['EHLO', 'QUIT']);
  });

  it('over implicit TLS too', async () => {
    const s = await noAuthServer([], true);
    const err = await sendMail({
      ...message,
      port: s.port,
      secure: true,
      ca: pem.cert,
      user: 'bob',
      password: 'pw',
    }).catch((e) => e);
    expect(err).toMatchObject({
      code: 'NETKIT_AUTH',
      message: `127.0.0.1:${s.port} does not offer AUTH (not even over TLS); nothing was sent`,
    });
    expect(verbs(s)).toEqual(['EHLO', 'QUIT']);
  });

  it('netkit mail send --user: one line, exit 1, nothing sent', async () => {
    const s = await noAuthServer(['STARTTLS', 'PIPELINING']);
    const r = await netkit(
      [
        'mail',
        'send',
        '--server',
        `127.0.0.1:${s.port}`,
        '--no-tls',
        '--data',
        empty.dir,
        '--user',
        'bob',
        '--password',
        'x',
        '--from',
        'bob@lab',
        '--to',
        'alice@lab',
        '--text',
        'hi',
      ],
      { env: { NETKIT_PASSWORD: undefined } },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `netkit: 127.0.0.1:${s.port} does not offer AUTH (it may offer AUTH only after STARTTLS, which --no-tls turned off); nothing was sent\n`,
    );
    expect(verbs(s)).toEqual(['EHLO', 'QUIT']);
  });
});
