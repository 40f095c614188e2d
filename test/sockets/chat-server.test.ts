import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import {
  type ChatLeaveEvent,
  type ChatMessage,
  type ChatServer,
  type ChatServerOptions,
  createChatServer,
} from '../../src/sockets/chat-server.js';
import { LineClient, tempDir } from '../helpers/net.js';

const servers: ChatServer[] = [];
const clients: LineClient[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close(200);
  for (const f of cleanups.splice(0)) await f();
});

async function start(opts: ChatServerOptions = {}): Promise<ChatServer> {
  const s = await createChatServer({ rateLimit: { perSecond: 0 }, ...opts });
  servers.push(s);
  return s;
}

/** Connect and read the banner up to "You joined"; optionally take a nickname. */
async function join(s: ChatServer, nick?: string): Promise<LineClient> {
  const c = await LineClient.connect(s.port);
  clients.push(c);
  await c.until(/^\*\*\* You joined #/);
  if (nick) {
    c.send(`/nick ${nick}\r\n`);
    await c.until(new RegExp(`^\\*\\*\\* You are now known as ${nick}$`));
  }
  return c;
}

/**
 * A client that keeps its side open after the server's FIN, as nc and ncat do while their stdin is
 * open. `ended` resolves with everything received once the server has closed its side.
 */
async function halfOpen(port: number, send = ''): Promise<{ socket: net.Socket; ended: Promise<string> }> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  socket.on('error', () => {});
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    text += d;
  });
  const ended = once(socket, 'end').then(() => text);
  if (send) socket.write(send);
  return { socket, ended };
}

/** Wait for an event on the server. */
function next<T>(s: ChatServer, event: string, pred: (v: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (v: T) => {
      if (!pred(v)) return;
      s.off(event, on);
      resolve(v);
    };
    s.on(event, on);
  });
}

describe('chat server: the basics', () => {
  it('greets with a banner and a guest nickname, and announces joins', async () => {
    const s = await start({ motd: ['Be \u001b[31mnice'] });
    const a = await LineClient.connect(s.port);
    clients.push(a);
    expect(await a.line()).toMatch(/^\*\*\* Welcome to netkit chat .* on 127\.0\.0\.1:\d+ \(1 online\)\.$/);
    expect(await a.line()).toBe('*** Be nice');
    expect(await a.line()).toMatch(/^\*\*\* You are guest\d+\. Change it with \/nick NAME/);
    expect(await a.line()).toBe('*** You joined #lobby (nobody else is here)');
    const joined = next<{ room: string; nick: string }>(s, 'join');
    const b = await join(s);
    expect((await joined).room).toBe('lobby');
    expect(await a.line()).toMatch(/^\*\*\* guest\d+ joined #lobby$/);
    b.send('/who\n');
    expect(await b.line()).toMatch(/^\*\*\* In #lobby \(2\): guest\d+, guest\d+$/);
    expect(s.clients).toBe(2);
  });

  it('enforces unique nicknames case-insensitively and announces changes', async () => {
    const s = await start();
    const a = await join(s, 'Alice');
    const b = await join(s);
    await a.until(/joined #lobby/);
    const nickEvent = next<{ old: string; nick: string }>(s, 'nick');
    b.send('/nick alice\n');
    expect(await b.line()).toBe('!!! nickname "alice" is already taken');
    b.send('/nick 1x\n');
    expect(await b.line()).toMatch(/^!!! a nickname starts with a letter/);
    b.send('/nick bob\n');
    expect(await b.line()).toBe('*** You are now known as bob');
    expect(await a.line()).toMatch(/^\*\*\* guest\d+ is now known as bob$/);
    expect((await nickEvent).nick).toBe('bob');
    // the old nickname is free again, and a user may change the case of their own
    a.send('/nick ALICE\n');
    expect(await a.line()).toBe('*** You are now known as ALICE');
  });

  it('relays lines to the others (not back to the sender), stripped of escapes', async () => {
    const s = await start();
    const a = await join(s, 'alice');
    const b = await join(s, 'bob');
    const c = await join(s, 'carol');
    await a.until(/known as carol$/);
    await b.until(/known as carol$/);
    const messages: ChatMessage[] = [];
    s.on('message', (m: ChatMessage) => messages.push(m));
    a.send('hello \u001b[2J\u001b]0;pwned\u0007everyone\r\n');
    a.send('/me waves\n');
    a.send('//slash\n');
    for (const peer of [b, c]) {
      expect(await peer.line()).toBe('<alice> hello everyone');
      expect(await peer.line()).toBe('* alice waves');
      expect(await peer.line()).toBe('<alice> /slash');
    }
    a.send('/who\n');
    // the sender's next line is the reply, not an echo of its own messages
    expect(await a.line()).toBe('*** In #lobby (3): alice, bob, carol');
    expect(messages.map((m) => [m.nick, m.kind, m.text, m.via])).toEqual([
      ['alice', 'say', 'hello everyone', 'tcp'],
      ['alice', 'me', 'waves', 'tcp'],
      ['alice', 'say', '/slash', 'tcp'],
    ]);
  });

  it('delivers private messages only to their target', async () => {
    const s = await start();
    const a = await join(s, 'alice');
    const b = await join(s, 'bob');
    const c = await join(s, 'carol');
    await a.until(/known as carol$/);
    await b.until(/known as carol$/);
    a.send('/msg BOB psst\n');
    expect(await a.line()).toBe('-> *bob* psst');
    expect(await b.line()).toBe('*alice* psst');
    a.send('/msg nobody hi\n');
    expect(await a.line()).toBe('!!! no such user "nobody"');
    a.send('public\n');
    // carol's next line is the public one: she never saw the private message
    expect(await c.line()).toBe('<alice> public');
  });

  it('has rooms: join, leave notices, /rooms, /who, no cross-talk', async () => {
    const s = await start();
    const a = await join(s, 'alice');
    const b = await join(s, 'bob');
    await a.until(/known as bob$/);
    const left = next<ChatLeaveEvent>(s, 'leave');
    b.send('/join #Dev\n');
    expect(await b.line()).toBe('*** You joined #dev (nobody else is here)');
    expect(await a.line()).toBe('*** bob left #lobby (moved to #dev)');
    expect(await left).toEqual({ room: 'lobby', nick: 'bob', reason: 'moved to #dev' });
    b.send('/join dev\n');
    expect(await b.line()).toBe('*** You are already in #dev');
    a.send('/rooms\n');
    expect(await a.line()).toBe('*** Rooms: #lobby (1), #dev (1)');
    a.send('/who dev\n');
    expect(await a.line()).toBe('*** In #dev (1): bob');
    a.send('/who nowhere\n');
    expect(await a.line()).toBe('!!! no room #nowhere');
    a.send('lobby only\n');
    b.send('dev only\n');
    a.send('/join dev\n');
    expect(await a.line()).toBe('*** You joined #dev (1 other here: bob)');
    expect(await a.line()).toBe('*** Recent messages in #dev:');
    expect(await a.line()).toMatch(/^\[\d\d:\d\d\] <bob> dev only$/);
    expect(await a.line()).toBe('*** End of recent messages.');
    expect(await b.line()).toBe('*** alice joined #dev');
    expect(s.rooms()).toEqual([
      { name: 'lobby', members: [] },
      { name: 'dev', members: ['bob', 'alice'] },
    ]);
  });

  it('forgets empty rooms without history and caps the number of rooms', async () => {
    const s = await start({ maxRooms: 2, historySize: 0 });
    const x = await join(s, 'xavier');
    const y = await join(s, 'yvonne');
    x.send('/join a\n');
    expect(await x.until(/You joined/)).toBe('*** You joined #a (nobody else is here)');
    y.send('/join b\n');
    expect(await y.until(/^!!!/)).toBe('!!! too many rooms (at most 2); join an existing one (/rooms)');
    x.send('/join lobby\n');
    await x.until(/You joined #lobby/);
    expect(s.rooms().map((r) => r.name)).toEqual(['lobby']);
    y.send('/join b\n');
    expect(await y.until(/You joined/)).toBe('*** You joined #b (nobody else is here)');
  });

  it('replays a bounded history on join', async () => {
    const s = await start({ historySize: 3 });
    const a = await join(s, 'alice');
    for (let i = 1; i <= 5; i++) a.send(`m${i}\n`);
    await new Promise<void>((resolve) => s.on('message', (m: ChatMessage) => m.text === 'm5' && resolve()));
    const b = await LineClient.connect(s.port);
    clients.push(b);
    await b.until(/^\*\*\* Recent messages in #lobby:$/);
    const replay = [await b.line(), await b.line(), await b.line(), await b.line()];
    expect(replay.slice(0, 3).map((l) => l.replace(/^\[\d\d:\d\d\] /, ''))).toEqual([
      '<alice> m3',
      '<alice> m4',
      '<alice> m5',
    ]);
    expect(replay[3]).toBe('*** End of recent messages.');
    expect(s.history('#LOBBY').map((m) => m.text)).toEqual(['m3', 'm4', 'm5']);
  });

  it('a newcomer gets what its room said in the same turn once, in the replay, after its banner', async () => {
    const s = await start();
    const a = await join(s, 'alice');
    // said in the very turn a client is accepted (or moves), before it is in the room
    s.on('trace', (e: TraceEvent) => {
      if (e.kind === 'connect') s.post('lobby', 'api', 'just before you came');
      if (e.kind === 'in' && e.text === '/join b') s.post('b', 'api', 'just before you moved');
    });
    const b = await LineClient.connect(s.port);
    clients.push(b);
    expect(await a.line()).toBe('<api> just before you came');
    const seen: string[] = [];
    for (let l = await b.line(); !l.startsWith('*** End of recent'); l = await b.line()) seen.push(l);
    expect(seen[0]).toMatch(/^\*\*\* Welcome to netkit chat/);
    expect(seen.filter((l) => l.includes('just before you came'))).toEqual([
      expect.stringMatching(/^\[\d\d:\d\d\] <api> just before you came$/),
    ]);
    b.send('/join b\n');
    const moved: string[] = [];
    for (let l = await b.line(); !l.startsWith('*** End of recent'); l = await b.line()) moved.push(l);
    expect(moved[0]).toBe('*** You joined #b (nobody else is here)');
    expect(moved.filter((l) => l.includes('just before you moved'))).toHaveLength(1);
    b.send('/who\n');
    expect(await b.line()).toMatch(/^\*\*\* In #b \(1\)/);
  });

  it('persists history in DATA/chat/history.jsonl across restarts', async () => {
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const s1 = await createChatServer({ dataDir: dir, historySize: 2 });
    s1.post('lobby', 'web', 'one');
    s1.post('dev', 'web', 'two');
    s1.post('lobby', 'web', 'three');
    s1.post('lobby', 'web', 'four');
    await s1.close();
    const file = path.join(dir, 'chat', 'history.jsonl');
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      room: 'lobby',
      nick: 'web',
      text: 'one',
      kind: 'say',
      via: 'api',
    });
    const s2 = await start({ dataDir: dir, historySize: 2 });
    expect(s2.history('lobby').map((m) => m.text)).toEqual(['three', 'four']);
    expect(s2.rooms().map((r) => r.name)).toEqual(['lobby', 'dev']);
    const c = await LineClient.connect(s2.port);
    clients.push(c);
    await c.until(/Recent messages in #lobby/);
    expect(await c.line()).toMatch(/<web> three$/);
  });

  it('headless API: post() reaches TCP clients, validates its input', async () => {
    const s = await start();
    const a = await join(s, 'alice');
    const seen: ChatMessage[] = [];
    s.on('message', (m: ChatMessage) => seen.push(m));
    const msg = s.post('#lobby', 'dashboard', 'hi from the \u001b[1mweb');
    expect(msg).toMatchObject({ room: 'lobby', nick: 'dashboard', text: 'hi from the web', via: 'api' });
    expect(await a.line()).toBe('<dashboard> hi from the web');
    expect(seen).toEqual([msg]);
    expect(() => s.post('lobby', 'alice', 'x')).toThrow(expect.objectContaining({ code: 'NETKIT_EXISTS' }));
    expect(() => s.post('lobby', '9x', 'x')).toThrow(
      expect.objectContaining({ code: 'NETKIT_INVALID_INPUT' }),
    );
    expect(() => s.post('bad room', 'web', 'x')).toThrow(
      expect.objectContaining({ code: 'NETKIT_INVALID_INPUT' }),
    );
    expect(() => s.post('lobby', 'web', '\u0007')).toThrow(
      expect.objectContaining({ code: 'NETKIT_INVALID_INPUT' }),
    );
    expect(() => s.post('lobby', 'web', 'x'.repeat(2000))).toThrow(
      expect.objectContaining({ code: 'NETKIT_TOO_LARGE' }),
    );
    s.post('new-room', 'web', 'creates it');
    expect(s.rooms().map((r) => r.name)).toContain('new-room');
  });

  it('emits trace events with connection ids', async () => {
    const s = await start();
    const events: TraceEvent[] = [];
    s.on('trace', (e: TraceEvent) => events.push(e));
    const a = await join(s, 'alice');
    a.send('/help\n');
    await a.until(/Anything else is said/);
    expect(events.some((e) => e.kind === 'connect' && e.service === 'chat')).toBe(true);
    expect(events.some((e) => e.kind === 'in' && e.text === '/help')).toBe(true);
    expect(events.some((e) => e.kind === 'out' && e.text.includes('/join ROOM'))).toBe(true);
  });

  it('/quit says goodbye and tells the room why', async () => {
    const s = await start();
    const a = await join(s, 'alice');
    const b = await join(s, 'bob');
    await a.until(/known as bob$/);
    b.send('/quit see you\n');
    expect(await b.line()).toBe('*** Bye!');
    await b.closed;
    expect(await a.line()).toBe('*** bob left #lobby (quit: see you)');
  });

  it('/quit frees the nick and tells the room at once, while an nc-like client keeps its side open', async () => {
    const s = await start();
    const a = await join(s, 'alice');
    // like nc with stdin still open: our FIN does not close the client's side
    const quitter = await halfOpen(s.port, '/nick bob\n/quit bye\n');
    expect(await quitter.ended).toMatch(/\*\*\* Bye!\r\n$/);
    expect(s.rooms()[0]!.members).toEqual(['alice']);
    expect(await a.until(/^\*\*\* bob left/)).toBe('*** bob left #lobby (quit: bye)');
    a.send('/nick bob\n');
    expect(await a.until(/^(\*\*\*|!!!) /)).toBe('*** You are now known as bob');
    expect(quitter.socket.destroyed).toBe(false);
    quitter.socket.destroy();
  });

  it('a flood kick tells the room at once, even if the client keeps its side open', async () => {
    const s = await start({ rateLimit: { burst: 2, perSecond: 0.01, maxDropped: 3 } });
    const a = await join(s, 'alice');
    const flooder = await halfOpen(s.port, '/nick fred\n');
    await a.until(/known as fred$/);
    flooder.socket.write('x\n'.repeat(20));
    expect(await flooder.ended).toMatch(/Too many lines too fast: disconnected\.\r\n$/);
    expect(s.rooms()[0]!.members).toEqual(['alice']);
    expect(await a.until(/^\*\*\* fred left/)).toBe('*** fred left #lobby (flooding)');
    expect(flooder.socket.destroyed).toBe(false);
    flooder.socket.destroy();
  });

  it('an idle kick frees the nick at once, even if the client keeps its side open', async () => {
    const s = await start({ idleTimeoutMs: 150 });
    const left = next<ChatLeaveEvent>(s, 'leave');
    const idle = await halfOpen(s.port);
    expect(await idle.ended).toMatch(/Idle timeout: disconnected\.\r\n$/);
    expect(s.rooms()[0]!.members).toEqual([]);
    expect((await left).reason).toBe('idle timeout');
    expect(idle.socket.destroyed).toBe(false);
    idle.socket.destroy();
  });

  it('close() tells every client the server is shutting down', async () => {
    const s = await createChatServer();
    const a = await join(s, 'alice');
    const b = await join(s, 'bob');
    await s.close();
    expect(await a.until(/shutting down/)).toBe('*** Server shutting down. Goodbye!');
    expect(await b.until(/shutting down/)).toBe('*** Server shutting down. Goodbye!');
    await Promise.all([a.closed, b.closed]);
  });

  it('refuses clients over the limit with a message', async () => {
    const s = await start({ maxClients: 2 });
    await join(s);
    await join(s);
    const c = await LineClient.connect(s.port);
    clients.push(c);
    expect(await c.line()).toBe('!!! The chat is full; try again later.');
    await c.closed;
  });
});

describe('chat server: bad input', () => {
  it('answers an overlong line with a notice and keeps the session', async () => {
    const s = await start({ maxLineLength: 100 });
    const a = await join(s, 'alice');
    const b = await join(s, 'bob');
    await a.until(/known as bob$/);
    a.send(`${'x'.repeat(5000)}\nstill here\n`);
    expect(await a.line()).toBe('!!! Line too long (at most 100 bytes); it was dropped.');
    expect(await b.line()).toBe('<alice> still here');
  });

  it('survives binary garbage and relays nothing a terminal would execute', async () => {
    const s = await start();
    const a = await join(s, 'alice');
    const b = await join(s, 'bob');
    await a.until(/known as bob$/);
    const garbage = Buffer.alloc(4096);
    let seed = 7;
    for (let i = 0; i < garbage.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      garbage[i] = seed & 0xff;
    }
    a.send(garbage as unknown as string);
    a.send('\nafter garbage\n');
    const got: string[] = [];
    for (;;) {
      const l = await b.line();
      got.push(l);
      if (l === '<alice> after garbage') break;
    }
    for (const l of got) {
      expect(l).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    }
    a.send('/who\n');
    expect(await a.until(/^\*\*\* In #lobby/)).toBe('*** In #lobby (2): alice, bob');
  });

  it('a Latin-1 terminal is read as Windows-1252, a UTF-8 one as UTF-8; Telnet commands reach nobody', async () => {
    const s = await start();
    const latin = await join(s, 'latin');
    const utf8 = await join(s, 'utf8');
    await latin.until(/known as utf8$/);
    const said = next<ChatMessage>(s, 'message', (m) => m.text.startsWith('caf'));
    // an nc in a Latin-1 (or Windows-1252) terminal: é, ÿ, € and “quotes” as one byte each
    latin.socket.write(Buffer.from([...Buffer.from('café ÿes ', 'latin1'), 0x80, 0x93, 0x71, 0x94, 0x0a]));
    expect(await utf8.line()).toBe('<latin> café ÿes €“q”');
    expect((await said).text).toBe('café ÿes €“q”');
    // a UTF-8 line is never re-read, a telnet client's negotiation and Ctrl-C are not text
    utf8.socket.write(
      Buffer.concat([
        Buffer.from([0xff, 0xfb, 0x18, 0xff, 0xfd, 0x01]),
        Buffer.from('naïve ☕ '),
        Buffer.from([0xff, 0xf4, 0xff, 0xfd, 0x06]),
        Buffer.from('ok\r\n'),
      ]),
    );
    expect(await latin.until(/^<utf8>/)).toBe('<utf8> naïve ☕ ok');
  });

  it('handles abrupt resets: the room is told, the server keeps serving', async () => {
    const s = await start();
    const a = await join(s, 'alice');
    const b = await join(s, 'bob');
    await a.until(/known as bob$/);
    const left = next<ChatLeaveEvent>(s, 'leave');
    b.socket.resetAndDestroy();
    expect(await left).toMatchObject({ nick: 'bob', reason: 'connection closed' });
    expect(await a.line()).toBe('*** bob left #lobby (connection closed)');
    const c = await join(s, 'bob');
    c.send('back\n');
    expect(await a.until(/^<bob>/)).toBe('<bob> back');
  });

  it('half-close: lines sent before EOF are relayed, then the server closes', async () => {
    const s = await start();
    const a = await join(s, 'alice');
    const b = await join(s, 'bob');
    await a.until(/known as bob$/);
    b.socket.end('last words\n');
    expect(await a.line()).toBe('<bob> last words');
    await b.closed;
    expect(await a.line()).toBe('*** bob left #lobby (connection closed)');
  });

  it('drops silent (half-open) clients after the idle timeout', async () => {
    const s = await start({ idleTimeoutMs: 150 });
    const a = await join(s, 'alice');
    const left = next<ChatLeaveEvent>(s, 'leave');
    expect(await a.until(/Idle timeout/, 3000)).toBe('*** Idle timeout: disconnected.');
    expect((await left).reason).toBe('idle timeout');
    await a.closed;
  });

  it('rate limit: excess lines are dropped with one notice, sustained floods disconnect', async () => {
    // a refill so slow that no token comes back during the test, however slow the machine
    const s = await start({ rateLimit: { burst: 5, perSecond: 0.01, maxDropped: 20 } });
    const a = await join(s, 'alice');
    const b = await join(s, 'bob');
    await a.until(/known as bob$/);
    let burst = '';
    for (let i = 1; i <= 8; i++) burst += `line${i}\n`;
    a.send(burst);
    // /nick took one token, so 4 of the 8 lines fit the burst
    for (let i = 1; i <= 4; i++) expect(await b.line()).toBe(`<alice> line${i}`);
    expect(await a.line()).toBe('!!! You are sending too fast; lines are being dropped. Slow down.');
    const left = next<ChatLeaveEvent>(s, 'leave');
    a.send('flood\n'.repeat(100));
    expect(await a.until(/Too many lines/)).toBe('!!! Too many lines too fast: disconnected.');
    expect((await left).reason).toBe('flooding');
    expect(await b.line()).toBe('*** alice left #lobby (flooding)');
  });

  it('drops a client that never reads; the others still receive everything', async () => {
    const s = await start({ maxOutboundBytes: 512 * 1024 });
    const slow = await join(s, 'slow');
    slow.socket.pause();
    const readers = [await join(s, 'r1'), await join(s, 'r2')];
    const talker = await join(s, 'talker');
    for (const r of readers) await r.until(/known as talker$/);
    const left = next<ChatLeaveEvent>(s, 'leave', (e) => e.nick === 'slow');
    // more than the kernel's socket buffers can absorb for the slow one (tcp_wmem max + rcvbuf)
    const N = 16_000;
    const payload = 'y'.repeat(900);
    // count and check the relayed lines in bulk (a line-at-a-time client would be the bottleneck)
    const counts = readers.map(() => 0);
    /** wake-ups for the sender, which keeps at most WINDOW lines ahead of the readers */
    let wake: (() => void) | undefined;
    const received = readers.map((r, k) => {
      let carry = '';
      let bad = 0;
      r.socket.removeAllListeners('data');
      return new Promise<{ count: number; bad: number }>((resolve, reject) => {
        // a reader dropped as well would hang the test: fail at once, saying so
        r.socket.once('close', () => reject(new Error(`reader r${k + 1} was disconnected`)));
        r.socket.on('data', (d: string) => {
          const parts = (carry + d).split('\r\n');
          carry = parts.pop()!;
          for (const l of parts) {
            if (!l.startsWith('<talker> ')) continue;
            if (l !== `<talker> ${counts[k]} ${payload}`) bad++;
            counts[k]! += 1;
          }
          wake?.();
          if (counts[k] === N) resolve({ count: N, bad });
        });
      });
    });
    for (const p of received) p.catch(() => {});
    // The readers read as fast as they can, but they share this process (and, under a loaded CI
    // machine, the CPU) with the server: a sender that ran megabytes ahead of them would make them
    // "too slow" as well. So the talker stays within WINDOW lines (450 KB, plus the chunk it sends)
    // of the slower reader — less than a reader's socket buffers and 512 KiB allowance hold, while
    // the client that never reads falls behind by all 14 MB and is dropped.
    const WINDOW = 500;
    for (let i = 0; i < N; i += 500) {
      while (Math.min(...counts) < i - WINDOW)
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      wake = undefined;
      let chunk = '';
      for (let j = i; j < i + 500; j++) chunk += `${j} ${payload}\n`;
      talker.send(chunk);
      await new Promise((r) => setImmediate(r));
    }
    expect((await left).reason).toBe('too slow');
    expect(await Promise.all(received)).toEqual([
      { count: N, bad: 0 },
      { count: N, bad: 0 },
    ]);
    expect(s.rooms()[0]!.members).toEqual(['r1', 'r2', 'talker']);
  }, 30_000);
});
