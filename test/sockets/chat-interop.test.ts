/**
 * The chat against independent peers: netcat-openbsd (`nc`), nmap's `ncat` and `telnet` as clients
 * of our server, and our `chat join` client against `ncat --chat` as the server. The peers must be
 * installed (.ci/run installs them): a missing binary fails the test.
 */
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ChatServer, createChatServer } from '../../src/sockets/chat-server.js';
import { CLI, have, LineClient, startServe } from '../helpers/net.js';
import { Proc } from './chat-peers.js';
import { freePort } from './peers.js';

const procs: Proc[] = [];
const servers: ChatServer[] = [];
const clients: LineClient[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) p.kill();
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close(200);
});

function proc(cmd: string, args: string[]): Proc {
  const p = new Proc(cmd, args);
  procs.push(p);
  return p;
}

beforeAll(async () => {
  // the peers are part of the test: a missing one is a failure, never a skip
  expect(await have('nc'), 'nc (netcat-openbsd) must be installed').toBe(true);
  expect(await have('ncat'), 'ncat must be installed').toBe(true);
  expect(await have('telnet'), 'telnet must be installed').toBe(true);
});

async function chatServer(): Promise<ChatServer> {
  const s = await createChatServer({ rateLimit: { perSecond: 0 } });
  servers.push(s);
  return s;
}

/** Two command-line peers chat through our server; their messages cross. */
async function crossTalk(s: ChatServer, a: Proc, b: Proc, nickA: string, nickB: string) {
  await a.waitFor(/^\*\*\* You joined #lobby/);
  await b.waitFor(/^\*\*\* You joined #lobby/);
  a.send(`/nick ${nickA}\n`);
  await a.waitFor(new RegExp(`^\\*\\*\\* You are now known as ${nickA}$`));
  b.send(`/nick ${nickB}\n`);
  await b.waitFor(new RegExp(`^\\*\\*\\* You are now known as ${nickB}$`));
  a.send(`hello from ${nickA}\n`);
  expect(await b.waitFor(/^<.*> hello from/)).toBe(`<${nickA}> hello from ${nickA}`);
  b.send(`hi back from ${nickB} \u001b[31mred\u001b[0m\n`);
  expect(await a.waitFor(/^<.*> hi back/)).toBe(`<${nickB}> hi back from ${nickB} red`);
  a.send('/quit\n');
  expect(await a.waitFor(/^\*\*\* Bye!$/)).toBe('*** Bye!');
  // netcat keeps running until its stdin ends too
  a.child.stdin.end();
  expect(await a.exited).toBe(0);
  expect(await b.waitFor(/left #lobby/)).toBe(`*** ${nickA} left #lobby (quit)`);
  expect(s.rooms()[0]!.members).toEqual([nickB]);
}

describe('chat interop: nc and ncat clients against our server', () => {
  it('nc ↔ ncat', async () => {
    const s = await chatServer();
    const a = proc('nc', ['127.0.0.1', String(s.port)]);
    const b = proc('ncat', ['127.0.0.1', String(s.port)]);
    await crossTalk(s, a, b, 'ncuser', 'ncatuser');
  });

  it('telnet talks and quits; the room sees its text only', async () => {
    const s = await chatServer();
    const watcher = await LineClient.connect(s.port);
    clients.push(watcher);
    await watcher.until(/You joined #lobby/);
    const t = proc('telnet', ['127.0.0.1', String(s.port)]);
    await t.waitFor(/^\*\*\* You joined #lobby/);
    t.send('/nick tel\n');
    await t.waitFor(/known as tel$/);
    t.send('hello from telnet\n');
    expect(await watcher.until(/^<tel>/)).toBe('<tel> hello from telnet');
    t.send('/quit\n');
    await t.waitFor(/^\*\*\* Bye!$/);
    expect(await watcher.until(/left #lobby/)).toBe('*** tel left #lobby (quit)');
  });

  it("telnet's commands never reach the room: Ctrl-C's IAC IP + DO TIMING-MARK is answered WILL, AYT [Yes]", async () => {
    const s = await chatServer();
    const watcher = await LineClient.connect(s.port);
    clients.push(watcher);
    await watcher.until(/You joined #lobby/);
    const raw = net.connect(s.port, '127.0.0.1');
    let received = Buffer.alloc(0);
    const arrived = async (bytes: Buffer) => {
      while (!received.includes(bytes)) {
        const [chunk] = (await once(raw, 'data')) as [Buffer];
        received = Buffer.concat([received, chunk]);
      }
    };
    await arrived(Buffer.from('You joined #lobby'));
    // what telnet sends on Ctrl-C, then a line; an option request (WILL ECHO); are you there?
    raw.write(Buffer.from([0xff, 0xf4, 0xff, 0xfd, 0x06, ...Buffer.from('after ctrl-c\r\n')]));
    await arrived(Buffer.from([0xff, 0xfb, 0x06]));
    expect(await watcher.until(/^<guest\d+> after/)).toMatch(/^<guest\d+> after ctrl-c$/);
    raw.write(Buffer.from([0xff, 0xfb, 0x01, 0xff, 0xf6]));
    await arrived(Buffer.from([0xff, 0xfe, 0x01]));
    await arrived(Buffer.from('[Yes]'));
    raw.destroy();
  });

  it("nc: a last line without its newline still reaches the room (printf 'x' | nc -N)", async () => {
    const s = await chatServer();
    const watcher = await LineClient.connect(s.port);
    clients.push(watcher);
    await watcher.until(/You joined #lobby/);
    const a = proc('nc', ['-N', '127.0.0.1', String(s.port)]);
    await a.waitFor(/^\*\*\* You joined #lobby/);
    a.send('unterminated words');
    a.child.stdin.end();
    expect(await watcher.until(/^<guest\d+> unterm/)).toMatch(/^<guest\d+> unterminated words$/);
  });

  it('nc in a Latin-1 terminal ↔ ncat in a UTF-8 one: each reads the other in UTF-8', async () => {
    const s = await chatServer();
    const latin = proc('nc', ['127.0.0.1', String(s.port)]);
    const utf8 = proc('ncat', ['127.0.0.1', String(s.port)]);
    await latin.waitFor(/^\*\*\* You joined #lobby/);
    await utf8.waitFor(/^\*\*\* You joined #lobby/);
    // é, ÿ and Windows-1252's € (0x80) as one byte each
    latin.child.stdin.write(Buffer.from([...Buffer.from('/nick latin\ncafé ÿes, 5 ', 'latin1'), 0x80, 0x0a]));
    // ncat --chat as the server would show it as "caf\351 \377es, 5 \200"
    expect(await utf8.waitFor(/^<latin>/)).toBe('<latin> café ÿes, 5 €');
    utf8.send('/nick utf8\nnaïve\n');
    expect(await latin.waitFor(/^<utf8>/)).toBe('<utf8> naïve');
  });

  it('nc ↔ nc, CRLF line ends (nc -C)', async () => {
    const s = await chatServer();
    const a = proc('nc', ['-C', '127.0.0.1', String(s.port)]);
    const b = proc('nc', ['127.0.0.1', String(s.port)]);
    await crossTalk(s, a, b, 'crlf', 'lf');
  });

  it('ncat ↔ our `chat join` client (CLI server, piped client)', async () => {
    const srv = await startServe(['chat', 'serve', '--port', '0']);
    try {
      const port = srv.listening[0]!.port;
      const peer = proc('ncat', ['127.0.0.1', String(port)]);
      await peer.waitFor(/^\*\*\* You joined #lobby/);
      peer.send('/nick peer\n');
      await peer.waitFor(/known as peer$/);
      const me = proc(process.execPath, [CLI, 'chat', 'join', `127.0.0.1:${port}`, '--nick', 'bob']);
      await me.waitFor(/^\*\*\* You are now known as bob$/);
      await peer.waitFor(/is now known as bob$/);
      me.send('hello from netkit\n');
      expect(await peer.waitFor(/^<bob>/)).toBe('<bob> hello from netkit');
      peer.send('welcome \u001b]0;title\u0007bob\n');
      expect(await me.waitFor(/^<peer>/)).toBe('<peer> welcome bob');
      // end of input: the client half-closes and exits once the server has closed
      me.child.stdin.end();
      expect(await me.exited).toBe(0);
      expect(await peer.waitFor(/bob left/)).toBe('*** bob left #lobby (connection closed)');
      // SIGTERM: the server says goodbye before closing
      await srv.stop();
      expect(await peer.waitFor(/shutting down/)).toBe('*** Server shutting down. Goodbye!');
      // like nc, ncat leaves once its stdin ends too
      peer.child.stdin.end();
      expect(await peer.exited).toBe(0);
    } finally {
      await srv.stop();
    }
  });
});

describe('chat interop: our client against ncat --chat', () => {
  it('chats with a plain peer through `ncat -l --chat`, without sending /nick', async () => {
    const port = await freePort();
    const ncat = proc('ncat', ['-v', '-l', '--chat', '127.0.0.1', String(port)]);
    await ncat.waitFor(/Listening on 127\.0\.0\.1:\d+/, 'err');
    const peer = await LineClient.connect(port);
    clients.push(peer);
    await peer.until(/already connected/);
    const me = proc(process.execPath, [
      CLI,
      'chat',
      'join',
      `127.0.0.1:${port}`,
      '--nick',
      'alice',
      '--greeting-timeout',
      '300ms',
    ]);
    // ncat announces the newcomer to the peer
    await peer.until(/is connected as <user\d+>/);
    expect(await me.waitFor(/not a netkit chat server/, 'err')).toMatch(/--nick was not sent/);
    me.send('hello ncat\n');
    const seen: string[] = [];
    for (let l = await peer.line(); ; l = await peer.line()) {
      seen.push(l);
      if (/hello ncat/.test(l)) break;
    }
    expect(seen.at(-1)).toMatch(/^<user\d+> hello ncat$/);
    // the nickname was never relayed as text
    expect(seen.join('\n')).not.toMatch(/\/nick/);
    peer.send('hi netkit\n');
    expect(await me.waitFor(/hi netkit/)).toMatch(/^<user\d+> hi netkit$/);
    me.child.stdin.end();
    expect(await me.exited).toBe(0);
    await peer.until(/is disconnected/);
  });
});
