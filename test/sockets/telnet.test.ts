/** The Telnet command filter of the chat server (RFC 854, RFC 860 timing mark), byte by byte. */
import { describe, expect, it } from 'vitest';
import { TelnetFilter } from '../../src/sockets/telnet.js';

function filter() {
  const answers: number[][] = [];
  const f = new TelnetFilter((b) => answers.push([...b]));
  return { f, answers };
}

describe('TelnetFilter', () => {
  it('passes text without IAC through untouched (the same buffer)', () => {
    const { f, answers } = filter();
    const text = Buffer.from('héllo\r\n');
    expect(f.push(text)).toBe(text);
    expect(answers).toEqual([]);
  });

  it('drops commands, keeps IAC IAC as one 0xFF, refuses options, answers DO TM and AYT', () => {
    const { f, answers } = filter();
    const out = f.push(
      Buffer.from([
        0x61, 0xff, 0xf4, 0xff, 0xfd, 0x06, 0x62, 0xff, 0xff, 0xff, 0xfb, 0x18, 0xff, 0xfd, 0x01, 0xff, 0xf6,
        0x63,
      ]),
    );
    expect([...out]).toEqual([0x61, 0x62, 0xff, 0x63]);
    expect(answers).toEqual([
      [0xff, 0xfb, 0x06], // DO TIMING-MARK → WILL
      [0xff, 0xfe, 0x18], // WILL TERMINAL-TYPE → DONT
      [0xff, 0xfc, 0x01], // DO ECHO → WONT
      [...Buffer.from('\r\n[Yes]\r\n')],
    ]);
  });

  it('never answers a refusal (WONT, DONT), so no negotiation loop', () => {
    const { f, answers } = filter();
    expect([...f.push(Buffer.from([0xff, 0xfc, 0x01, 0xff, 0xfe, 0x03, 0x78]))]).toEqual([0x78]);
    expect(answers).toEqual([]);
  });

  it('skips a subnegotiation whole, even split over chunks, and commands cut at any byte', () => {
    const { f } = filter();
    const stream = Buffer.from([
      0x41, 0xff, 0xfa, 0x18, 0x00, 0x58, 0x54, 0x45, 0x52, 0x4d, 0xff, 0xf0, 0x42, 0xff, 0xfd, 0x06, 0x43,
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const { f: g } = filter();
      const out = Buffer.concat([g.push(stream.subarray(0, cut)), g.push(stream.subarray(cut))]);
      expect(out.toString(), `cut at ${cut}`).toBe('ABC');
    }
    expect(f.push(stream).toString()).toBe('ABC');
  });

  it('keeps an IAC that starts no command: a Latin-1 ÿ from a raw client, even cut after the IAC', () => {
    const latin1 = Buffer.from('ÿes, naïve ÿ\r\n', 'latin1');
    expect([...filter().f.push(latin1)]).toEqual([...latin1]);
    for (let cut = 0; cut <= latin1.length; cut++) {
      const { f } = filter();
      const out = Buffer.concat([f.push(latin1.subarray(0, cut)), f.push(latin1.subarray(cut))]);
      expect(out.toString('latin1'), `cut at ${cut}`).toBe('ÿes, naïve ÿ\r\n');
    }
  });
});
