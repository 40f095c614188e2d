/**
 * The classic services (echo, discard, chargen, qotd, daytime, time) over TCP and UDP: the library
 * on loopback, bad input (garbage, resets, 10,000 connect/disconnect cycles, clients that never
 * read, idle clients), the `netkit serve` CLI, and independent clients — Python `socket` over UDP
 * and TCP, `nc` over TCP.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import {
  CHARGEN_CYCLE,
  type ClassicServiceHandle,
  chargenLine,
  daytimeString,
  parseQuotes,
  parseTimeBytes,
  RFC868_OFFSET,
  startService,
  startServices,
  timeBytes,
} from '../../src/sockets/classic.js';
import { UdpClient } from '../../src/sockets/udp.js';
import { netkit, run, startServe } from '../helpers/net.js';
import { collect, spawnPeer, until } from './peers.js';

const FIXED = new Date(Date.UTC(1982, 1, 22, 17, 37, 43));

describe('pure parts', () => {
  it('chargen: the rotating 72-character pattern of printable ASCII', () => {
    expect(chargenLine(0)).toBe(' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg');
    expect(chargenLine(1).startsWith('!"#')).toBe(true);
    expect(chargenLine(94)).toBe(`~${chargenLine(0).slice(0, 71)}`);
    expect(chargenLine(95)).toBe(chargenLine(0));
    for (let i = 0; i < 95; i++) expect(chargenLine(i)).toHaveLength(72);
    expect(CHARGEN_CYCLE.length).toBe(95 * 74);
  });

  it('daytime: RFC 867 "Weekday, Month Day, Year Time-Zone"', () => {
    expect(daytimeString(FIXED)).toBe('Monday, February 22, 1982 17:37:43-UTC');
  });

  it('time: 32-bit big-endian seconds since 1900', () => {
    expect(timeBytes(new Date(0)).toString('hex')).toBe('83aa7e80');
    expect(timeBytes(new Date(0)).readUInt32BE(0)).toBe(RFC868_OFFSET);
    expect(parseTimeBytes(timeBytes(FIXED)).getTime()).toBe(FIXED.getTime());
    // wraps in February 2036 instead of overflowing
    expect(timeBytes(new Date(Date.UTC(2036, 1, 7, 6, 28, 16))).toString('hex')).toBe('00000000');
    expect(() => parseTimeBytes(Buffer.alloc(3))).toThrow(/4 bytes/);
  });

  it('time: a reply after the 2036 wrap decodes to 2036–2106, not to 1900', () => {
    const wrap = new Date(Date.UTC(2036, 1, 7, 6, 28, 16));
    for (const d of [wrap, new Date(Date.UTC(2040, 0, 1)), new Date(Date.UTC(2106, 1, 7))]) {
      expect(parseTimeBytes(timeBytes(d)).toISOString()).toBe(d.toISOString());
    }
    expect(parseTimeBytes(timeBytes(new Date(Date.UTC(1970, 0, 1)))).toISOString()).toBe(
      '1970-01-01T00:00:00.000Z',
    );
    expect(parseTimeBytes(timeBytes(new Date(Date.UTC(2036, 1, 7, 6, 28, 15)))).getUTCFullYear()).toBe(2036);
  });

  it.each([
    ['one\n\ntwo\nlines\n\n\nthree', ['one', 'two\nlines', 'three']],
    ['a\n%\nb\r\n%\r\nc', ['a', 'b', 'c']],
    ['  only  \n', ['only']],
  ])('parseQuotes(%j)', (text, quotes) => {
    expect(parseQuotes(text)).toEqual(quotes);
  });

  it('parseQuotes refuses empty files and quotes over the RFC 865 limit', () => {
    expect(() => parseQuotes('\n\n%\n')).toThrow(/no quotes/);
    expect(() => parseQuotes(`ok\n\n${'x'.repeat(511)}`)).toThrow(/quote 2 is 513 bytes as sent/);
    // the limit is on the reply as sent: under 512 bytes, CRLFs included
    expect(() => parseQuotes('x'.repeat(510))).toThrow(/quote 1 is 512 bytes as sent/);
    expect(parseQuotes('x'.repeat(509))).toHaveLength(1);
    // the audit's file: 499 bytes with LF line ends, 520 once every line ends in CRLF
    const lines = `${Array(20).fill('x'.repeat(24)).join('\n')}\n`;
    expect(() => parseQuotes(lines)).toThrow(/quote 1 is 520 bytes as sent/);
  });
});

describe('startService', () => {
  const handles: ClassicServiceHandle[] = [];
  const start = async (name: string, opts: Parameters<typeof startService>[1] = {}) => {
    const h = await startService(name, { now: () => FIXED, ...opts });
    handles.push(h);
    return h;
  };
  afterAll(async () => {
    await Promise.all(handles.map((h) => h.close(0)));
  });

  it('echo returns every byte over TCP and UDP, on one port', async () => {
    const h = await start('echo');
    expect(h.udp?.port).toBe(h.tcp?.port);
    const data = randomBytes(1_000_000);
    expect((await collect(h.tcp!.port, data)).equals(data)).toBe(true);
    const c = await UdpClient.open('127.0.0.1', h.udp!.port);
    const reply = c.receive(5000);
    await c.send(Buffer.from([0, 1, 2, 255]));
    expect((await reply)?.data.toString('hex')).toBe('000102ff');
    c.close();
  });

  it('discard swallows everything and says nothing', async () => {
    const h = await start('discard');
    expect((await collect(h.tcp!.port, randomBytes(500_000))).length).toBe(0);
  });

  it('daytime, time and qotd answer once and close (TCP) or reply once (UDP)', async () => {
    const day = await start('daytime');
    expect((await collect(day.tcp!.port)).toString()).toBe('Monday, February 22, 1982 17:37:43-UTC\r\n');
    const time = await start('time');
    expect((await collect(time.tcp!.port)).equals(timeBytes(FIXED))).toBe(true);
    const c = await UdpClient.open('127.0.0.1', time.udp!.port);
    const reply = c.receive(5000);
    await c.send('');
    expect(parseTimeBytes((await reply)!.data).getTime()).toBe(FIXED.getTime());
    c.close();
  });

  it('qotd: the reply as sent (CRLF line ends) is under 512 bytes over TCP and UDP; longer quotes are refused', async () => {
    // 21 lines: 21 × (22 + CRLF) = 504, plus 7 more characters on the last line = 511
    const quote = `${Array(20).fill('y'.repeat(22)).join('\n')}\n${'z'.repeat(29)}`;
    const h = await start('qotd', { quotes: parseQuotes(quote) });
    const tcpReply = await collect(h.tcp!.port);
    const c = await UdpClient.open('127.0.0.1', h.udp!.port);
    const reply = c.receive(5000);
    await c.send('');
    const udpReply = (await reply)!.data;
    c.close();
    expect([tcpReply.length, udpReply.length]).toEqual([511, 511]);
    expect(tcpReply.equals(udpReply)).toBe(true);
    await expect(startService('qotd', { quotes: [`${quote}z`] })).rejects.toMatchObject({
      code: 'NETKIT_TOO_LARGE',
    });
  });

  it('qotd cycles through its quotes across TCP and UDP', async () => {
    const h = await start('qotd', { quotes: ['first', 'second\nline', 'third'] });
    const got = [(await collect(h.tcp!.port)).toString()];
    const c = await UdpClient.open('127.0.0.1', h.udp!.port);
    for (let i = 0; i < 3; i++) {
      const reply = c.receive(5000);
      await c.send('x');
      got.push((await reply)!.data.toString());
    }
    c.close();
    got.push((await collect(h.tcp!.port)).toString());
    expect(got).toEqual(['first\r\n', 'second\r\nline\r\n', 'third\r\n', 'first\r\n', 'second\r\nline\r\n']);
  });

  it('chargen streams the pattern over TCP and a random length up to 512 over UDP', async () => {
    let r = 0;
    const h = await start('chargen', { random: () => r });
    const head = await new Promise<string>((resolve) => {
      let text = '';
      const s = net.connect(h.tcp!.port, '127.0.0.1');
      s.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.length > 74 * 3) {
          s.destroy();
          resolve(text);
        }
      });
    });
    expect(head.slice(0, 74 * 3)).toBe(`${chargenLine(0)}\r\n${chargenLine(1)}\r\n${chargenLine(2)}\r\n`);
    const c = await UdpClient.open('127.0.0.1', h.udp!.port);
    const sizes: number[] = [];
    for (const x of [0, 0.5, 0.999999]) {
      r = x;
      const reply = c.receive(5000);
      await c.send('');
      const d = (await reply)!.data;
      sizes.push(d.length);
      expect(/^[ -~\r\n]*$/.test(d.toString('latin1'))).toBe(true);
    }
    expect(sizes).toEqual([0, 256, 512]);
    c.close();
  });

  it('UDP: no reply to a source port that is one of our services (the echo ↔ chargen ping-pong)', async () => {
    // a client socket on what is chargen's port for the echo service's port base: exactly where a
    // spoofed datagram "from chargen" would make echo and chargen answer each other forever
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const chargenPort = sock.address().port;
    const received: Buffer[] = [];
    sock.on('message', (m) => received.push(m));
    const h = await start('echo', { port: 0, portBase: chargenPort - 19 });
    const events: TraceEvent[] = [];
    h.on('trace', (e: TraceEvent) => events.push(e));
    sock.send('loop?', h.udp!.port, '127.0.0.1');
    await until(() => events.some((e) => /no reply to .*service port/.test(e.text)), 5000, 'the refusal');
    // an ordinary client is still answered, and its answer comes after the refused one would have
    const c = await UdpClient.open('127.0.0.1', h.udp!.port);
    const reply = c.receive(5000);
    await c.send('hello');
    expect((await reply)?.data.toString()).toBe('hello');
    c.close();
    sock.close();
    expect(received).toEqual([]);
  });

  it('UDP: replies to one source IP are rate-limited (bounded reflection; a loop dies)', async () => {
    const h = await start('echo', { udpRepliesPerIp: 2 });
    let dropped = 0;
    h.on('trace', (e: TraceEvent) => {
      if (/over the per-IP reply rate/.test(e.text)) dropped += 1;
    });
    const c = await UdpClient.open('127.0.0.1', h.udp!.port);
    let replies = 0;
    c.socket.on('message', () => {
      replies += 1;
    });
    for (let i = 0; i < 10; i++) await c.send(`n${i}`);
    await until(() => replies + dropped === 10, 5000, 'every datagram answered or dropped');
    c.close();
    expect(dropped).toBeGreaterThanOrEqual(5);
    expect(replies).toBeGreaterThanOrEqual(2);
  });

  it('ports: base + standard port, or one exact port for TCP and UDP', async () => {
    const probe = await start('echo');
    const base = probe.tcp!.port - 7; // a base known to be free for echo
    await probe.close();
    const h = await start('echo', { portBase: base });
    expect([h.tcp?.port, h.udp?.port]).toEqual([base + 7, base + 7]);
    const exact = await start('time', { port: 0, tcp: false });
    expect(exact.tcp).toBeUndefined();
    expect(exact.udp?.port).toBeGreaterThan(0);
    await expect(startService('nope')).rejects.toMatchObject({ code: 'NETKIT_USAGE' });
    await expect(startService('time', { portBase: 65500 })).rejects.toThrow(/port 65537 is outside 0-65535/);
    await expect(startServices(['echo', 'time'], { port: 9000 })).rejects.toMatchObject({
      code: 'NETKIT_USAGE',
    });
    await expect(startService('echo', { port: h.tcp!.port })).rejects.toMatchObject({
      code: 'NETKIT_ADDRESS_IN_USE',
    });
  });

  it('emits trace events for TCP connections and UDP datagrams', async () => {
    const h = await start('echo');
    const events: TraceEvent[] = [];
    h.on('trace', (e: TraceEvent) => events.push(e));
    await collect(h.tcp!.port, 'hi\n');
    const c = await UdpClient.open('127.0.0.1', h.udp!.port);
    const reply = c.receive(5000);
    await c.send('yo');
    await reply;
    c.close();
    await until(() => events.some((e) => e.kind === 'disconnect'));
    expect(events.map((e) => `${e.service} ${e.kind} ${e.text}`)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^echo connect tcp$/),
        'echo in "hi\\n" (3 bytes)',
        expect.stringMatching(/^echo in "yo" \(2 bytes\) from 127\.0\.0\.1:\d+$/),
        expect.stringMatching(/^echo out "yo" \(2 bytes\) to 127\.0\.0\.1:\d+$/),
      ]),
    );
  });
});

describe('bad input: the services keep serving and memory stays bounded', () => {
  let echo: ClassicServiceHandle;
  let chargen: ClassicServiceHandle;
  beforeAll(async () => {
    echo = await startService('echo', { maxConnectionsPerIp: 200 });
    chargen = await startService('chargen');
  });
  afterAll(async () => {
    await Promise.all([echo.close(0), chargen.close(0)]);
  });

  it('binary garbage to every TCP service', async () => {
    const all = await startServices(['discard', 'daytime', 'qotd', 'time']);
    try {
      for (const h of all) {
        const reply = await collect(h.tcp!.port, randomBytes(64 * 1024));
        if (h.service === 'discard') expect(reply.length).toBe(0);
        else expect(reply.length).toBeGreaterThan(0);
      }
      const garbage = randomBytes(8192);
      expect((await collect(echo.tcp!.port, garbage)).equals(garbage)).toBe(true);
    } finally {
      await Promise.all(all.map((h) => h.close(0)));
    }
  });

  it('abrupt resets mid-stream', async () => {
    for (const port of [echo.tcp!.port, chargen.tcp!.port]) {
      await new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => s.write(randomBytes(100_000)));
        s.once('data', () => {
          s.resetAndDestroy();
          resolve();
        });
        s.on('error', () => {});
      });
    }
    await until(() => echo.connections === 0 && chargen.connections === 0, 5000, 'reset connections to go');
    expect((await collect(echo.tcp!.port, 'still here')).toString()).toBe('still here');
  });

  it('a chargen client that never reads: the server stops at one buffer', async () => {
    const s = net.connect(chargen.tcp!.port, '127.0.0.1');
    s.pause();
    s.on('error', () => {});
    // the kernel buffers fill, then write() returns false and the server waits for 'drain'
    await until(() => chargen.stats().queuedBytes > 0, 10_000, 'chargen to hit backpressure');
    let max = 0;
    for (let i = 0; i < 20; i++) {
      max = Math.max(max, chargen.stats().queuedBytes);
      await new Promise((r) => setImmediate(r));
    }
    // 16 KiB high-water mark + one 7,030-byte cycle
    expect(max).toBeLessThanOrEqual(16 * 1024 + CHARGEN_CYCLE.length);
    s.destroy();
    await until(() => chargen.connections === 0, 5000, 'chargen client to go');
  });

  it('an echo client that sends without reading cannot grow the server queue', async () => {
    const s = net.connect(echo.tcp!.port, '127.0.0.1');
    s.pause();
    s.on('error', () => {});
    const chunk = randomBytes(64 * 1024);
    // keep sending until our own socket refuses more: the server has stopped reading from us
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (s.write(chunk)) {}
        if (s.writableLength > 8 * 1024 * 1024) resolve();
        else s.once('drain', pump);
      };
      s.once('connect', pump);
      const timer = setInterval(() => {
        if (echo.stats().queuedBytes > 0 && s.writableLength > 0) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    });
    expect(echo.stats().queuedBytes).toBeLessThanOrEqual(16 * 1024 + 64 * 1024);
    s.destroy();
  });

  it('idle connections are closed by the server after the idle timeout', async () => {
    const h = await startService('discard', { idleTimeoutMs: 100 });
    try {
      const a = net.connect(h.tcp!.port, '127.0.0.1');
      a.on('error', () => {});
      let ended = false;
      a.once('end', () => {
        ended = true;
      });
      await new Promise((r) => a.once('close', r));
      expect(ended).toBe(true); // a FIN from the server: we never closed it
    } finally {
      await h.close(0);
    }
  });

  it('the connection limit turns extra clients away and keeps serving the others', async () => {
    const h = await startService('echo', { maxConnections: 2 });
    try {
      const held = [net.connect(h.tcp!.port, '127.0.0.1'), net.connect(h.tcp!.port, '127.0.0.1')];
      for (const s of held) s.on('error', () => {});
      await until(() => h.connections === 2, 5000, 'two connections');
      expect((await collect(h.tcp!.port, 'x')).length).toBe(0);
      held[0]!.destroy();
      await until(() => h.connections === 1, 5000, 'one connection');
      expect((await collect(h.tcp!.port, 'x')).toString()).toBe('x');
      held[1]!.destroy();
    } finally {
      await h.close(0);
    }
  });
});

const PY_UDP = `
import json, socket, sys, time
ports = json.loads(sys.argv[1])
out = {}
def ask(port, payload, wait=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    s.sendto(payload, ('127.0.0.1', port))
    try:
        return s.recvfrom(70000)[0]
    except socket.timeout:
        return None
    finally:
        s.close()
out['echo'] = ask(ports['echo'], b'\\x00hello\\xff').hex()
out['discard'] = ask(ports['discard'], b'into the void', 0.5)
out['daytime'] = ask(ports['daytime'], b'').decode()
t = ask(ports['time'], b'')
out['time'] = int.from_bytes(t, 'big') - 2208988800 - int(time.time())
out['time_len'] = len(t)
out['qotd'] = [ask(ports['qotd'], b'').decode() for _ in range(3)]
out['chargen'] = [ask(ports['chargen'], b'').decode('ascii') for _ in range(5)]
tcp = socket.create_connection(('127.0.0.1', ports['chargen']))
buf = b''
while len(buf) < 74 * 96:
    buf += tcp.recv(65536)
tcp.close()
out['chargen_tcp'] = buf[:74 * 96].decode('ascii')
tcp = socket.create_connection(('127.0.0.1', ports['time']))
t = b''
while True:
    d = tcp.recv(16)
    if not d: break
    t += d
out['time_tcp'] = int.from_bytes(t, 'big') - 2208988800 - int(time.time())
print(json.dumps(out))
`;

describe('netkit serve with independent clients', () => {
  let serve: Awaited<ReturnType<typeof startServe>>;
  const tcp: Record<string, number> = {};
  const udp: Record<string, number> = {};
  beforeAll(async () => {
    serve = await startServe(['serve', 'all', '--port', '0'], 12);
    for (const l of serve.listening) (l.transport === 'udp' ? udp : tcp)[l.service] = l.port;
  });
  afterAll(() => serve.stop());

  it('announces one JSON line per socket, TCP and UDP on the same port', () => {
    expect(Object.keys(tcp).sort()).toEqual(['chargen', 'daytime', 'discard', 'echo', 'qotd', 'time']);
    expect(udp).toEqual(tcp);
    expect(serve.listening.every((l) => l.host === '127.0.0.1' && l.tls === false)).toBe(true);
  });

  it('Python socket clients get RFC answers over UDP (and chargen/time over TCP)', async () => {
    const py = await run('python3', ['-c', PY_UDP, JSON.stringify(udp)]);
    expect(py.stderr).toBe('');
    const r = JSON.parse(py.stdout);
    expect(r.echo).toBe('0068656c6c6fff');
    expect(r.discard).toBeNull();
    expect(r.daytime).toMatch(/^\w+day, \w+ \d{1,2}, \d{4} \d\d:\d\d:\d\d-UTC\r\n$/);
    expect(r.time_len).toBe(4);
    expect(Math.abs(r.time)).toBeLessThanOrEqual(2);
    expect(Math.abs(r.time_tcp)).toBeLessThanOrEqual(2);
    expect(new Set(r.qotd).size).toBe(3);
    for (const q of r.qotd) {
      expect(Buffer.byteLength(q)).toBeLessThanOrEqual(512);
      expect(q.endsWith('\r\n')).toBe(true);
    }
    for (const c of r.chargen) {
      expect(c.length).toBeLessThanOrEqual(512);
      expect(CHARGEN_CYCLE.toString('latin1').repeat(2)).toContain(c);
    }
    const lines = (r.chargen_tcp as string).split('\r\n').slice(0, 96);
    lines.forEach((l, i) => {
      expect(l).toBe(chargenLine(i));
    });
  });

  it('nc clients over TCP: echo a file, read daytime and qotd', async () => {
    const data = randomBytes(200_000);
    const nc = await spawnPeer('nc', ['-N', '127.0.0.1', String(tcp.echo)], null);
    nc.child.stdin!.end(data);
    await nc.exited;
    expect(nc.stdout().equals(data)).toBe(true);
    const day = await run('nc', ['127.0.0.1', String(tcp.daytime)]);
    expect(day.stdout).toMatch(/^\w+day, .* \d\d:\d\d:\d\d-UTC\r\n$/);
    const q = await run('nc', ['127.0.0.1', String(tcp.qotd)]);
    expect(q.stdout).toMatch(/ - .+\r\n$/);
  });

  it('usage errors exit 2 with one line; --quotes is used by qotd', async () => {
    const bad = await netkit(['serve', 'echo', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^netkit: unknown service "nope"/);
    const two = await netkit(['serve', 'echo', 'time', '--port', '9007']);
    expect(two.code).toBe(2);
    const missing = await netkit(['serve', 'qotd', '--quotes', '/nonexistent/quotes.txt']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'netkit: cannot read --quotes /nonexistent/quotes.txt: no such directory: /nonexistent\n',
    );
  });
});
