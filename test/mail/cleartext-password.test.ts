/**
 * STARTTLS stripping: an attacker on the path removes STARTTLS (STLS) from the server's EHLO reply
 * (CAPA) and reads the password the client then sends in the clear. `mail send` and `pop3 list`
 * upgrade whenever the upgrade is offered; when it is not, a password goes to a server off this
 * machine only if the user asked for plaintext (`--no-tls`, `--no-stls`), the rule the servers
 * apply from their side. The servers here listen on this host's own non-loopback interface (a
 * server "elsewhere"), offer AUTH / USER but no upgrade, and record every command line.
 */
import net from 'node:net';
import os from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sendMail } from '../../src/mail/send.js';
import { hostile } from '../helpers/hostile-smtp.js';
import { netkit, tempDir } from '../helpers/net.js';

const external = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

const servers: Array<{ close(): Promise<void> }> = [];
let empty: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  empty = await tempDir('netkit-cleartext-');
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await empty.cleanup();
});

/**
 * A POP3 server on the external interface whose CAPA lists USER but no STLS, with an empty
 * maildrop; `verbs` are the commands it received.
 */
async function pop3WithoutStls(): Promise<{ port: number; verbs: string[] }> {
  const verbs: string[] = [];
  const answers: Record<string, string> = {
    CAPA: '+OK\r\nUSER\r\nUIDL\r\n.\r\n',
    STAT: '+OK 0 0\r\n',
    LIST: '+OK\r\n.\r\n',
    UIDL: '+OK\r\n.\r\n',
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.write('+OK stripped\r\n');
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const verb = buf.slice(0, i).split(' ')[0]!.toUpperCase();
        buf = buf.slice(i + 2);
        verbs.push(verb);
        s.write(answers[verb] ?? '+OK\r\n');
        if (verb === 'QUIT') s.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, external, resolve));
  servers.push({
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
  return { port: (server.address() as net.AddressInfo).port, verbs };
}

describe('a server off this machine that offers no STARTTLS / STLS', () => {
  it('mail send: the password is not sent (nothing is), unless --no-tls asks for plaintext', async () => {
    expect(external, 'a non-loopback IPv4 interface is needed for this test').toBeDefined();
    // an MTA that offers AUTH but no STARTTLS, and accepts everything
    const s = await hostile('never', ['AUTH PLAIN LOGIN', '8BITMIME'], external);
    servers.push(s);
    const verbs = () => s.lines.map((l) => l.split(/[ :]/)[0]!.toUpperCase());
    const server = `${external}:${s.port}`;
    const message = { from: 'alice@lab', to: ['bob@lab'], text: 'hi', host: external, port: s.port };
    const err = await sendMail({ ...message, user: 'bob', password: 'pw' }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'NETKIT_AUTH',
      message: `${server} offers no STARTTLS: the password would cross the network in the clear, where anyone on the path can read it (and remove STARTTLS from the server's reply); nothing was sent. Use the server's TLS port (--tls), or --no-tls to send it in the clear anyway`,
    });
    expect(verbs()).toEqual(['EHLO', 'QUIT']);

    // without credentials there is nothing to protect: the mail goes, as before
    s.lines.length = 0;
    expect((await sendMail(message)).response).toMatch(/^250 /);
    expect(verbs().slice(0, 2)).toEqual(['EHLO', 'MAIL']);

    s.lines.length = 0;
    const r = await netkit(
      [
        'mail',
        'send',
        '--server',
        server,
        '--user',
        'bob',
        '--to',
        'bob@lab',
        '--text',
        'hi',
        '--data',
        empty.dir,
      ],
      { env: { ...process.env, NETKIT_PASSWORD: 'pw' } },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`netkit: ${(err as Error).message}\n`);
    expect(verbs()).toEqual(['EHLO', 'QUIT']);

    s.lines.length = 0;
    const plain = await netkit(
      ['mail', 'send', '--server', server, '--no-tls', '--user', 'bob', '--to', 'bob@lab', '--text', 'hi'],
      { env: { ...process.env, NETKIT_PASSWORD: 'pw' } },
    );
    expect(plain.code, plain.stderr).toBe(0);
    expect(verbs().slice(0, 3)).toEqual(['EHLO', 'AUTH', 'MAIL']);
  });

  it('pop3 list: USER and PASS are not sent, unless --no-stls asks for plaintext', async () => {
    expect(external, 'a non-loopback IPv4 interface is needed for this test').toBeDefined();
    const s = await pop3WithoutStls();
    const server = `${external}:${s.port}`;
    const env = { ...process.env, NETKIT_PASSWORD: 'pw' };
    const r = await netkit(['pop3', 'list', '--server', server, '--user', 'bob', '--data', empty.dir], {
      env,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `netkit: ${server} offers no STLS: the password would cross the network in the clear, where anyone on the path can read it (and remove STLS from the server's reply); nothing was sent. Use the server's TLS port (--tls), or --no-stls to send it in the clear anyway\n`,
    );
    expect(s.verbs).toEqual(['CAPA']);

    s.verbs.length = 0;
    const plain = await netkit(['pop3', 'list', '--server', server, '--user', 'bob', '--no-stls'], { env });
    expect(plain.code, plain.stderr).toBe(0);
    expect(s.verbs.slice(0, 2)).toEqual(['USER', 'PASS']);
  });
});
