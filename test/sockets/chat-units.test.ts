import { describe, expect, it } from 'vitest';
import {
  type ChatCommand,
  nickKey,
  nickProblem,
  normaliseRoom,
  parseChatLine,
} from '../../src/sockets/chat-commands.js';
import { FanoutRoom, FLUSH_BYTES } from '../../src/sockets/chat-fanout.js';
import { RateLimiter, TokenBucket } from '../../src/sockets/chat-rate.js';
import { sanitizeChatText, stripControls } from '../../src/sockets/chat-sanitize.js';

describe('stripControls', () => {
  const ESC = '\u001b';
  const cases: Array<[string, string, string]> = [
    ['plain text', 'hello world', 'hello world'],
    ['unicode kept', 'héllo 世界 🎉', 'héllo 世界 🎉'],
    ['SGR colour', `${ESC}[31mred${ESC}[0m`, 'red'],
    ['clear screen', `a${ESC}[2Jb`, 'ab'],
    ['cursor home', `${ESC}[Hx`, 'x'],
    ['CSI with params', `${ESC}[1;31;42mX`, 'X'],
    ['CSI private mode', `${ESC}[?25lhidden cursor`, 'hidden cursor'],
    ['CSI with intermediate', `${ESC}[0 qx`, 'x'],
    ['CSI malformed (control inside)', `${ESC}[12\nabc`, 'abc'],
    ['unterminated CSI at end', `ok${ESC}[12`, 'ok'],
    ['OSC title with BEL', `${ESC}]0;pwned\u0007after`, 'after'],
    ['OSC title with ST', `${ESC}]2;pwned${ESC}\\after`, 'after'],
    ['OSC 8 hyperlink', `${ESC}]8;;http://evil${ESC}\\link${ESC}]8;;${ESC}\\`, 'link'],
    ['OSC 52 clipboard', `${ESC}]52;c;ZWNobyBoaQ==\u0007x`, 'x'],
    ['unterminated OSC swallows rest', `a${ESC}]0;title`, 'a'],
    ['DCS string', `${ESC}Pq#0;2;0;0;0${ESC}\\x`, 'x'],
    ['APC string', `${ESC}_payload${ESC}\\x`, 'x'],
    ['PM string', `${ESC}^secret${ESC}\\x`, 'x'],
    ['SOS string', `${ESC}Xsos${ESC}\\x`, 'x'],
    ['RIS reset', `${ESC}cx`, 'x'],
    ['charset designation', `${ESC}(0x${ESC}(B`, 'x'],
    ['save cursor', `${ESC}7x${ESC}8`, 'x'],
    ['lone ESC at end', `x${ESC}`, 'x'],
    ['ESC then newline', `x${ESC}\ny`, 'xy'],
    ['8-bit CSI', '\u009b31mred', 'red'],
    ['8-bit OSC with ST', '\u009d0;t\u009cafter', 'after'],
    ['8-bit DCS', '\u0090data\u009cx', 'x'],
    ['C1 control NEL', 'a\u0085b', 'ab'],
    ['C0 bell and backspace', 'a\u0007\u0008b', 'ab'],
    ['carriage return', 'fake\rreal', 'fakereal'],
    ['NUL', 'a\u0000b', 'ab'],
    ['DEL', 'a\u007fb', 'ab'],
    ['tab becomes space', 'a\tb', 'a b'],
    ['bidi override (Trojan Source)', 'abc\u202edcb', 'abcdcb'],
    ['bidi isolate', '\u2066x\u2069', 'x'],
    ['bidi marks LRM, RLM, ALM', 'a\u200eb\u200fc\u061cd', 'abcd'],
    ['line and paragraph separators', 'a\u2028b\u2029c', 'abc'],
    ['zero-width characters', 'z\u200bw\u200cs\u200dp\u2060a\ufeffce', 'zwspace'],
    ['audit repro', 'e\u009b31mf\u202eg\u200fh\u2028i\u200bj', 'efghij'],
    ['replacement char kept', 'a\ufffdb', 'a\ufffdb'],
  ];
  it.each(cases)('%s', (_name, input, expected) => {
    expect(stripControls(input)).toBe(expected);
  });

  it('never lets ESC or a C0/C1 control through, for random input', () => {
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let n = 0; n < 2000; n++) {
      let s = '';
      for (let i = 0; i < 40; i++) {
        const r = rnd() % 10;
        s +=
          r < 3
            ? '\u001b'
            : r < 5
              ? String.fromCharCode(rnd() % 0xa0)
              : String.fromCharCode(0x20 + (rnd() % 0x60));
      }
      expect(stripControls(s)).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    }
  });

  it('a /nick with hidden characters is the plain nick', () => {
    expect(parseChatLine('/nick \u200bal\u200fice\ufeff')).toEqual({ kind: 'nick', nick: 'alice' });
  });

  it('sanitizeChatText trims what is left', () => {
    expect(sanitizeChatText('  \u001b[1m hi \u001b[0m  ')).toBe('hi');
  });
});

describe('parseChatLine', () => {
  const cases: Array<[string, ChatCommand]> = [
    ['hello', { kind: 'say', text: 'hello' }],
    ['  spaced  ', { kind: 'say', text: 'spaced' }],
    ['', { kind: 'empty' }],
    ['   ', { kind: 'empty' }],
    ['\u001b[2J', { kind: 'empty' }],
    ['//not a command', { kind: 'say', text: '/not a command' }],
    ['/nick alice', { kind: 'nick', nick: 'alice' }],
    ['/NICK Alice', { kind: 'nick', nick: 'Alice' }],
    ['/name bob_2', { kind: 'nick', nick: 'bob_2' }],
    ['/nick', { kind: 'error', message: 'usage: /nick NAME' }],
    ['/nick two words', { kind: 'error', message: 'usage: /nick NAME' }],
    ['/nick 9lives', { kind: 'error', message: expect.stringContaining('starts with a letter') }],
    ['/nick a.b', { kind: 'error', message: expect.stringContaining('letters, digits') }],
    ['/nick averyveryverylongnick', { kind: 'error', message: expect.stringContaining('at most 16') }],
    ['/nick Server', { kind: 'error', message: '"Server" is reserved' }],
    ['/join dev', { kind: 'join', room: 'dev' }],
    ['/join #Dev', { kind: 'join', room: 'dev' }],
    ['/j ops-2', { kind: 'join', room: 'ops-2' }],
    ['/join', { kind: 'error', message: 'usage: /join ROOM' }],
    ['/join #', { kind: 'error', message: 'a room name cannot be empty' }],
    ['/join a/b', { kind: 'error', message: expect.stringContaining('letters, digits') }],
    ['/join a b', { kind: 'error', message: 'usage: /join ROOM' }],
    ['/rooms', { kind: 'rooms' }],
    ['/list', { kind: 'rooms' }],
    ['/rooms x', { kind: 'error', message: 'usage: /rooms' }],
    ['/who', { kind: 'who' }],
    ['/who #Dev', { kind: 'who', room: 'dev' }],
    ['/who a b', { kind: 'error', message: 'usage: /who [ROOM]' }],
    ['/msg bob hi there', { kind: 'msg', nick: 'bob', text: 'hi there' }],
    ['/m bob  x', { kind: 'msg', nick: 'bob', text: 'x' }],
    ['/msg bob', { kind: 'error', message: 'usage: /msg NICK TEXT' }],
    ['/msg', { kind: 'error', message: 'usage: /msg NICK TEXT' }],
    ['/msg 1bad hi', { kind: 'error', message: 'no such user "1bad"' }],
    ['/me waves', { kind: 'me', text: 'waves' }],
    ['/me \u001b[31mwaves', { kind: 'me', text: 'waves' }],
    ['/me', { kind: 'error', message: 'usage: /me ACTION' }],
    ['/quit', { kind: 'quit' }],
    ['/quit gone fishing', { kind: 'quit', reason: 'gone fishing' }],
    ['/exit', { kind: 'quit' }],
    ['/help', { kind: 'help' }],
    ['/?', { kind: 'help' }],
    ['/frobnicate', { kind: 'error', message: expect.stringContaining('unknown command "/frobnicate"') }],
    ['/', { kind: 'error', message: expect.stringContaining('unknown command') }],
  ];
  it.each(cases)('%j', (line, expected) => {
    expect(parseChatLine(line)).toEqual(expected);
  });
});

describe('nicknames and rooms', () => {
  it('validates nicknames', () => {
    expect(nickProblem('alice')).toBeUndefined();
    expect(nickProblem('A-b_9')).toBeUndefined();
    expect(nickProblem('x'.repeat(16))).toBeUndefined();
    expect(nickProblem('x'.repeat(17))).toMatch(/at most/);
    expect(nickProblem('')).toMatch(/empty/);
    expect(nickProblem('_x')).toMatch(/letter/);
    expect(nickProblem('ali ce')).toMatch(/letter/);
    expect(nickProblem('älice')).toMatch(/letter/);
    expect(nickProblem('ROOT')).toMatch(/reserved/);
  });
  it('folds case for uniqueness', () => {
    expect(nickKey('Alice')).toBe(nickKey('aLICE'));
  });
  it('normalises room names', () => {
    expect(normaliseRoom('#Lobby')).toEqual({ room: 'lobby' });
    expect(normaliseRoom('x'.repeat(25))).toHaveProperty('error');
    expect(normaliseRoom('-x')).toHaveProperty('error');
  });
});

describe('rate limiting', () => {
  it('token bucket allows a burst then the refill rate', () => {
    let now = 0;
    const b = new TokenBucket(3, 2, () => now);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    now += 499;
    expect(b.take()).toBe(false);
    now += 1;
    expect(b.take()).toBe(true);
    now += 10_000;
    expect(b.available).toBe(3);
  });

  it('drops excess lines, notifies once per run, disconnects sustained floods', () => {
    let now = 0;
    const r = new RateLimiter({ burst: 2, perSecond: 1, maxDropped: 3 }, () => now);
    expect(r.check()).toBe('ok');
    expect(r.check()).toBe('ok');
    expect(r.check()).toBe('drop-notify');
    expect(r.check()).toBe('drop');
    now += 1000;
    expect(r.check()).toBe('ok');
    expect(r.check()).toBe('drop-notify');
    expect(r.check()).toBe('drop');
    expect(r.check()).toBe('disconnect');
  });

  it('a patient client is never disconnected', () => {
    let now = 0;
    const r = new RateLimiter({ burst: 5, perSecond: 5, maxDropped: 10 }, () => now);
    for (let i = 0; i < 1000; i++) {
      now += 200;
      expect(r.check()).toBe('ok');
    }
  });

  it('perSecond 0 disables the limit', () => {
    const r = new RateLimiter({ perSecond: 0 });
    for (let i = 0; i < 10_000; i++) expect(r.check()).toBe('ok');
  });
});

describe('FanoutRoom', () => {
  class Member {
    writes: string[] = [];
    constructor(readonly name: string) {}
    write(data: string | Buffer): boolean {
      this.writes.push(data.toString());
      return true;
    }
  }
  const setup = () => {
    let scheduled = 0;
    const room = new FanoutRoom<Member>(() => {
      scheduled++;
    });
    const [a, b, c] = [new Member('a'), new Member('b'), new Member('c')];
    for (const m of [a, b, c]) room.members.add(m);
    return { room, a, b, c, scheduled: () => scheduled };
  };

  it("gives each member one write per flush, in order, without the sender's own lines", () => {
    const { room, a, b, c, scheduled } = setup();
    room.broadcast('<a> one\n', a);
    room.direct(b, 'reply to b\n');
    room.broadcast('<c> two\n', c);
    room.broadcast('*** notice\n');
    expect(scheduled()).toBe(1);
    room.flush();
    expect(a.writes).toEqual(['<c> two\n*** notice\n']);
    expect(b.writes).toEqual(['<a> one\nreply to b\n<c> two\n*** notice\n']);
    expect(c.writes).toEqual(['<a> one\n*** notice\n']);
    room.flush();
    expect(a.writes).toHaveLength(1);
  });

  it('shares one buffer among ordinary members', () => {
    const { room, a, b } = setup();
    const seen: unknown[] = [];
    const record = (d: string | Buffer) => {
      seen.push(d);
      return true;
    };
    a.write = record;
    b.write = record;
    room.broadcast('x\n');
    room.flush();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
  });

  it('skips members that left before the flush', () => {
    const { room, a, b } = setup();
    room.direct(a, 'for a\n');
    room.broadcast('all\n');
    room.members.delete(a);
    room.flush();
    expect(a.writes).toEqual([]);
    expect(b.writes).toEqual(['all\n']);
  });

  it('flushes early once a batch reaches FLUSH_BYTES', () => {
    const { room, a, scheduled } = setup();
    const line = `${'z'.repeat(1023)}\n`;
    for (let i = 0; i < FLUSH_BYTES / 1024; i++) room.broadcast(line);
    expect(a.writes).toHaveLength(1);
    expect(room.pending).toBe(false);
    room.broadcast(line);
    expect(scheduled()).toBe(2);
  });
});
