/**
 * UDP send/listen: the library on loopback (IPv4 and IPv6), then the CLI with Python `socket`
 * peers on the other side.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register } from '../../src/cli/udp.js';
import type { TraceEvent } from '../../src/core/trace.js';
import {
  bindUdp,
  checkPayloadSize,
  type Datagram,
  MAX_UDP_PAYLOAD,
  MAX_UDP6_PAYLOAD,
  UdpClient,
} from '../../src/sockets/udp.js';
import { netkit, run } from '../helpers/net.js';
import { expectBoundedStdoutDrops, spawnNetkit, spawnPeer, until } from './peers.js';

/** Python UDP client: sends each hex payload from argv and prints the replies (hex) with the sender. */
const PY_CLIENT = `
import json, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
out = []
for h in sys.argv[3:]:
    s.sendto(bytes.fromhex(h), (host, port))
    data, addr = s.recvfrom(70000)
    out.append({'hex': data.hex(), 'from': addr[1]})
print(json.dumps({'me': s.getsockname()[1], 'replies': out}))
`;

/** `netkit udp send` of one message to an echo server: what it printed, and the echo's port. */
async function sendToEcho(message: string, ...flags: string[]) {
  const echo = await bindUdp({ echo: true });
  try {
    const r = await netkit([
      'udp',
      'send',
      '127.0.0.1',
      String(echo.port),
      message,
      '-w',
      '5',
      '-n',
      '1',
      ...flags,
    ]);
    return { r, port: echo.port };
  } finally {
    await echo.close();
  }
}

/**
 * Send `total` datagrams of `size` random bytes to a `udp listen --echo` on `port`, with its
 * echoes as the flow control: a datagram is sent only when the listener has handled one of the
 * last 32, so none is lost in the kernel and all of them reach the printing code.
 */
async function floodThroughEcho(port: number, total: number, size: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
    const payload = randomBytes(size);
    let sent = 0;
    let echoed = 0;
    await new Promise<void>((resolve, reject) => {
      const stalled = setTimeout(
        () => reject(new Error(`flood stalled: ${sent} sent, ${echoed} echoed`)),
        25_000,
      );
      const pump = () => {
        for (; sent < total && sent - echoed < 32; sent++) sock.send(payload, port, '127.0.0.1');
      };
      sock.on('message', () => {
        echoed += 1;
        if (echoed < total) pump();
        else {
          clearTimeout(stalled);
          resolve();
        }
      });
      pump();
    });
  } finally {
    sock.close();
  }
}

/** Python UDP server: answers every datagram with b'ack:' + data, prints its port first. */
const PY_SERVER = `
import socket, sys
host = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((host, 0))
print('port', s.getsockname()[1], flush=True)
while True:
    data, addr = s.recvfrom(70000)
    print('got', data.hex(), flush=True)
    s.sendto(b'ack:' + data, addr)
`;

/**
 * A UDP socket on a privileged source port (the tests run as root), or, where binding one is not
 * allowed, on the listener's own port number on another loopback address: the other source port
 * the reply guard refuses (an echo loop between two servers on one port).
 */
async function bindRefusedSource(listenerPort: number): Promise<{ sock: dgram.Socket; why: RegExp }> {
  const bind = (port: number, address: string) =>
    new Promise<dgram.Socket>((resolve, reject) => {
      const sock = dgram.createSocket('udp4');
      sock.once('error', (err) => {
        sock.close();
        reject(err);
      });
      sock.bind(port, address, () => resolve(sock));
    });
  for (let port = 1023; port > 900; port--) {
    try {
      return { sock: await bind(port, '127.0.0.1'), why: /source port below 1024/ };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break; // EACCES: not root
    }
  }
  return { sock: await bind(listenerPort, '127.0.0.2'), why: /source port is a service port/ };
}

describe('udp library', () => {
  for (const host of ['127.0.0.1', '::1']) {
    const limit = host.includes(':') ? MAX_UDP6_PAYLOAD : MAX_UDP_PAYLOAD;
    it(`sends and echoes datagrams over ${host}, binary-safe, up to the family's ${limit}-byte limit`, async () => {
      const listener = await bindUdp({ host, echo: true });
      const seen: Datagram[] = [];
      listener.on('message', (d: Datagram) => seen.push(d));
      const client = await UdpClient.open(host, listener.port);
      expect(client.maxPayload).toBe(limit);
      expect(() => client.send(Buffer.alloc(limit + 1))).toThrow(
        expect.objectContaining({ code: 'NETKIT_TOO_LARGE' }),
      );
      const sizes = [0, 1, 1400, MAX_UDP_PAYLOAD, limit];
      for (const size of sizes) {
        const payload = randomBytes(size);
        const reply = client.receive(5000);
        await client.send(payload);
        const d = await reply;
        expect(d?.data.equals(payload)).toBe(true);
        expect(d?.port).toBe(listener.port);
      }
      expect(seen.map((d) => d.data.length)).toEqual(sizes);
      expect(seen[0]!.from).toBe(
        host.includes(':') ? `[${host}]:${seen[0]!.port}` : `${host}:${seen[0]!.port}`,
      );
      client.close();
      await listener.close();
    });
  }

  it('refuses an oversized payload before anything is sent', async () => {
    expect(() => checkPayloadSize(MAX_UDP_PAYLOAD)).not.toThrow();
    expect(() => checkPayloadSize(MAX_UDP_PAYLOAD + 1)).toThrow(/65,507/);
    expect(() => checkPayloadSize(MAX_UDP6_PAYLOAD, 6)).not.toThrow();
    expect(() => checkPayloadSize(MAX_UDP6_PAYLOAD + 1, 6)).toThrow(/65,527 bytes per IPv6 datagram/);
    const listener = await bindUdp();
    const client = await UdpClient.open('127.0.0.1', listener.port);
    const traced: string[] = [];
    client.on('trace', (e: { kind: string }) => traced.push(e.kind));
    expect(() => client.send(Buffer.alloc(MAX_UDP_PAYLOAD + 1))).toThrow(
      expect.objectContaining({ code: 'NETKIT_TOO_LARGE' }),
    );
    expect(traced).toEqual([]);
    client.close();
    await listener.close();
  });

  it('reports a closed port (ICMP port unreachable) as an error event, and accepts replies from the destination only', async () => {
    const gone = await bindUdp();
    const closedPort = gone.port;
    await gone.close();
    const client = await UdpClient.open('127.0.0.1', closedPort);
    const failed = new Promise<Error>((resolve) => client.once('error', resolve));
    await client.send('anyone?');
    expect(await failed).toMatchObject({
      code: 'NETKIT_CONNECT_FAILED',
      message: `nothing listens on UDP 127.0.0.1:${closedPort} (ICMP port unreachable)`,
    });
    client.close();

    // a datagram from a third party is not taken for a reply; the destination's own reply is
    const dest = await bindUdp({ echo: true });
    const other = await bindUdp();
    const c2 = await UdpClient.open('127.0.0.1', dest.port);
    const replies: Datagram[] = [];
    c2.on('message', (d: Datagram) => replies.push(d));
    const myPort = (c2.socket.address() as { port: number }).port;
    await new Promise<void>((resolve, reject) =>
      other.socket.send('spoof', myPort, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
    );
    const echoed = c2.receive(5000);
    await c2.send('real');
    expect((await echoed)?.data.toString()).toBe('real');
    expect(replies.map((d) => d.data.toString())).toEqual(['real']);
    c2.close();
    await dest.close();
    await other.close();
  });

  it('echo: no reply to a source port below 1024 (reflection), shown in the trace; others still answered', async () => {
    const listener = await bindUdp({ echo: true });
    const events: TraceEvent[] = [];
    listener.on('trace', (e: TraceEvent) => events.push(e));
    const { sock, why } = await bindRefusedSource(listener.port);
    const received: Buffer[] = [];
    sock.on('message', (m) => received.push(m));
    try {
      sock.send('reflect me', listener.port, '127.0.0.1');
      await until(
        () => events.some((e) => e.kind === 'info' && /^no reply to 127\.0\.0\.[12]:\d+: /.test(e.text)),
        5000,
        'the refusal in the trace',
      );
      expect(events.find((e) => e.kind === 'info')?.text).toMatch(why);
      expect(events.filter((e) => e.kind === 'out')).toEqual([]);
      // an ordinary client is still answered, after the refused reply would have gone out
      const c = await UdpClient.open('127.0.0.1', listener.port);
      const reply = c.receive(5000);
      await c.send('hello');
      expect((await reply)?.data.toString()).toBe('hello');
      c.close();
      expect(received).toEqual([]);
    } finally {
      sock.close();
      await listener.close();
    }
  });

  it('reports a port in use and a non-address host clearly', async () => {
    const a = await bindUdp();
    await expect(bindUdp({ port: a.port })).rejects.toMatchObject({ code: 'NETKIT_ADDRESS_IN_USE' });
    await expect(bindUdp({ host: 'localhost' })).rejects.toMatchObject({ code: 'NETKIT_USAGE' });
    await a.close();
  });
});

describe('udp CLI with Python socket peers', () => {
  for (const host of ['127.0.0.1', '::1']) {
    it(`udp listen --echo answers a Python client and prints each datagram with its sender (${host})`, async () => {
      const listen = await spawnNetkit(
        ['udp', 'listen', '0', '--echo', '--json', '--host', host],
        /"port":(\d+)/,
      );
      try {
        const payloads = [Buffer.from('hello'), Buffer.from([0, 255, 10, 13, 1]), randomBytes(5000)];
        const py = await run('python3', [
          '-c',
          PY_CLIENT,
          host,
          listen.ready[1]!,
          ...payloads.map((p) => p.toString('hex')),
        ]);
        expect(py.stderr).toBe('');
        const res = JSON.parse(py.stdout) as { me: number; replies: Array<{ hex: string; from: number }> };
        expect(res.replies.map((r) => r.hex)).toEqual(payloads.map((p) => p.toString('hex')));
        const lines = () =>
          listen
            .stdout()
            .toString()
            .trim()
            .split('\n')
            .slice(1)
            .map((l) => JSON.parse(l));
        await until(() => lines().length === 3, 5000, 'three datagram lines');
        expect(lines().map((l) => l.hex)).toEqual(payloads.map((p) => p.toString('hex')));
        expect(lines()[0]).toMatchObject({ port: res.me, text: 'hello', size: 5 });
        expect(lines()[1].text).toBeNull();
      } finally {
        await listen.kill();
      }
    });
  }

  it('udp listen: a datagram cannot fake a sender line (CR, LF, C1, bidi, zero-width shown as hex)', async () => {
    const listen = await spawnNetkit(
      ['udp', 'listen', '0', '--echo', '--count', '8'],
      /udp listening on .*:(\d+)\n/,
      {
        stream: 'stderr',
      },
    );
    try {
      const tricks = [
        'multi\nline\n[1.2.3.4:53] spoof',
        'cr\roverwrite',
        'a\u009b2Jb',
        'x \u202eevil',
        'rlm\u200fhere',
        'ls\u2028next',
        'zw\u200bsp',
      ];
      const payloads = [...tricks, 'plain text\n'].map((t) => Buffer.from(t));
      const py = await run('python3', [
        '-c',
        PY_CLIENT,
        '127.0.0.1',
        listen.ready[1]!,
        ...payloads.map((p) => p.toString('hex')),
      ]);
      expect(py.stderr).toBe('');
      expect(await listen.exited).toBe(0);
      const lines = listen.stdout().toString('utf8').split('\n').slice(0, -1);
      expect(lines).toHaveLength(payloads.length);
      const me = JSON.parse(py.stdout).me as number;
      for (const [i, p] of payloads.entries()) {
        const hex = p.toString('hex').replace(/(..)(?!$)/g, '$1 ');
        expect(lines[i]).toBe(
          i < tricks.length ? `[127.0.0.1:${me}] ${p.length} bytes: ${hex}` : `[127.0.0.1:${me}] plain text`,
        );
      }
    } finally {
      await listen.kill();
    }
    // the replies printed by udp send go through the same check
    const { r, port } = await sendToEcho('a\n[6.6.6.6:1] b');
    expect(r.stdout).toBe(`[127.0.0.1:${port}] 15 bytes: 61 0a 5b 36 2e 36 2e 36 2e 36 3a 31 5d 20 62\n`);
  });

  it('udp send: binary that happens to be valid UTF-8 (the time service in 2026) is shown as hex', async () => {
    // seconds since 1900 in late 2026: `ee b1 83 73`, U+EC43 (private use) and `s` in UTF-8
    const time = await sendToEcho('\uec43s', '--json');
    expect(time.r.stderr).toBe('');
    expect(JSON.parse(time.r.stdout)).toMatchObject({ size: 4, text: null, hex: 'eeb18373' });
    const unassigned = await sendToEcho('\u0378x');
    expect(unassigned.r.stdout).toBe(`[127.0.0.1:${unassigned.port}] 3 bytes: cd b8 78\n`);
  });

  it('udp listen --echo --udp-rate 5: a flood from one source gets at most the rate of replies, the rest traced', async () => {
    const listen = await spawnNetkit(
      ['udp', 'listen', '0', '--echo', '--udp-rate', '5', '--json', '--trace'],
      /"port":(\d+)/,
    );
    const sock = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
      let replies = 0;
      sock.on('message', () => {
        replies += 1;
      });
      const refused = () =>
        listen.stderr().match(/no reply to 127\.0\.0\.1:\d+: over the per-IP reply rate/g);
      const started = Date.now();
      for (let i = 0; i < 50; i++) {
        await new Promise<void>((resolve, reject) =>
          sock.send(`n${i}`, Number(listen.ready[1]), '127.0.0.1', (err) => (err ? reject(err) : resolve())),
        );
      }
      await until(
        () => replies + (refused()?.length ?? 0) === 50,
        10_000,
        'every datagram answered or refused',
      );
      // a burst of 5, then 5 a second for as long as the flood lasted
      const bound = 5 + Math.ceil(((Date.now() - started) / 1000) * 5);
      expect(replies).toBeGreaterThanOrEqual(5);
      expect(replies).toBeLessThanOrEqual(bound);
      expect(refused()!.length).toBe(50 - replies);
    } finally {
      sock.close();
      await listen.kill();
    }
  });

  it('udp listen: a stdout that is not read stays bounded; datagrams are dropped and counted on stderr', async () => {
    const total = 40_000;
    // --echo (unlimited) is the flow control (see floodThroughEcho)
    const listen = await spawnNetkit(
      ['udp', 'listen', '0', '--json', '--echo', '--udp-rate', '1000000'],
      /"port":(\d+)/,
    );
    listen.child.stdout!.pause();
    try {
      await floodThroughEcho(Number(listen.ready[1]), total, 1400);
      await expectBoundedStdoutDrops(listen, total, 1400);
    } finally {
      await listen.kill();
    }
  });

  it('udp listen --max-queue 64k: what waits for stdout is bounded by the option, not by 1 MiB', async () => {
    const total = 2000;
    const listen = await spawnNetkit(
      ['udp', 'listen', '0', '--json', '--echo', '--udp-rate', '1000000', '--max-queue', '64k'],
      /"port":(\d+)/,
    );
    listen.child.stdout!.pause();
    try {
      // 2,000 JSON lines of ~2.9 kB each: 5.8 MB that nobody reads for now
      await floodThroughEcho(Number(listen.ready[1]), total, 1400);
      listen.child.stdout!.resume();
      const report = /^netkit: dropped ([\d,]+) datagrams while stdout was not reading$/m;
      await until(() => report.test(listen.stderr()), 10_000, 'the drop report on stderr');
      const dropped = Number(report.exec(listen.stderr())![1]!.replaceAll(',', ''));
      const lines = () => listen.stdout().toString().split('\n').slice(1, -1);
      await until(() => lines().length === total - dropped, 10_000, 'the printed datagrams');
      // printed: what the pipe took (64 KiB), what our side had read before the pause took hold
      // (up to a stream's 64 KiB high-water mark, more under load: 272 KB was seen), at most 64 KiB
      // queued and the line that passed it; with the 1 MiB default it would be over 1 MiB
      const printed = lines().reduce((n, l) => n + l.length + 1, 0);
      expect(printed).toBeLessThan(512 * 1024);
      for (const l of lines()) expect(JSON.parse(l).size).toBe(1400);
    } finally {
      await listen.kill();
    }
  });

  it('udp send: MESSAGE or stdin lines, replies printed with their sender', async () => {
    const py = await spawnPeer('python3', ['-c', PY_SERVER, '127.0.0.1'], /port (\d+)\n/);
    try {
      const port = py.ready[1]!;
      const one = await netkit(['udp', 'send', '127.0.0.1', port, 'ping', '--wait', '5', '--count', '1']);
      expect(one.code).toBe(0);
      expect(one.stdout).toBe(`[127.0.0.1:${port}] ack:ping\n`);

      const lines = await netkit(
        ['udp', 'send', '127.0.0.1', port, '--wait', '5s', '--count', '3', '--json'],
        {
          input: 'one\ntwo\r\nthree',
        },
      );
      expect(lines.code).toBe(0);
      const replies = lines.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(replies.map((r) => r.text).sort()).toEqual(['ack:one', 'ack:three', 'ack:two']);
      expect(replies[0]).toMatchObject({ host: '127.0.0.1', port: Number(port) });
      expect(py.stdout().toString()).toContain(`got ${Buffer.from('three').toString('hex')}`);
    } finally {
      await py.kill();
    }
  });

  it('udp send --wait is a duration: a bare number is seconds, as for tcp connect -w', () => {
    const waitOf = (...args: string[]) => {
      const program = new Command();
      register(program);
      const send = program.commands
        .find((c) => c.name() === 'udp')!
        .commands.find((c) => c.name() === 'send')!;
      send.parseOptions(args);
      return send.opts().wait as number;
    };
    expect(waitOf()).toBe(0);
    expect(waitOf('--wait', '1')).toBe(1000);
    expect(waitOf('-w', '0.5')).toBe(500);
    expect(waitOf('--wait', '500ms')).toBe(500);
    expect(waitOf('--wait', '2s')).toBe(2000);
    expect(waitOf('--wait', '1m')).toBe(60_000);
  });

  it('udp send --wait 1 waits a second for replies that never come, then exits 0', async () => {
    const silent = await bindUdp();
    try {
      const got = new Promise<Datagram>((resolve) => silent.once('message', resolve));
      const started = Date.now();
      const r = await netkit(['udp', 'send', '127.0.0.1', String(silent.port), 'anyone?', '--wait', '1']);
      const elapsed = Date.now() - started;
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('');
      expect((await got).data.toString()).toBe('anyone?');
      expect(elapsed).toBeGreaterThanOrEqual(1000); // 1 s, not the 1 ms it meant before
    } finally {
      await silent.close();
    }
  });

  it('udp send to a closed port fails at once with one line and exit 1, as nc -u does', async () => {
    const gone = await bindUdp();
    const port = gone.port;
    await gone.close();
    // --wait is only the upper bound: the ICMP error ends the command as soon as it arrives
    const r = await netkit(['udp', 'send', '127.0.0.1', String(port), 'anyone?', '--wait', '60']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`netkit: nothing listens on UDP 127.0.0.1:${port} (ICMP port unreachable)\n`);
  });

  it('udp send refuses a payload over 65,507 bytes with one line and sends nothing', async () => {
    const big = 'x'.repeat(MAX_UDP_PAYLOAD + 1);
    const arg = await netkit(['udp', 'send', '127.0.0.1', '9', big, '--trace']);
    expect(arg.code).toBe(1);
    expect(arg.stderr).toBe(
      'netkit: payload of 65,508 bytes is over the UDP limit of 65,507 bytes per datagram\n',
    );
    const stdin = await netkit(['udp', 'send', '127.0.0.1', '9', '--trace'], { input: `${big}\n` });
    expect(stdin.code).toBe(1);
    expect(stdin.stderr).toBe('netkit: a stdin line is over the UDP limit of 65,507 bytes per datagram\n');
  });

  it('udp send to IPv6 takes the IPv6 limit (65,527 bytes, as Python sends to ::1) and refuses one byte more', async () => {
    const listener = await bindUdp({ host: '::1' });
    const got: number[] = [];
    listener.on('message', (d: Datagram) => got.push(d.data.length));
    const port = String(listener.port);
    try {
      const fits = await netkit(['udp', 'send', '::1', port, 'x'.repeat(MAX_UDP6_PAYLOAD)]);
      expect(fits.stderr).toBe('');
      expect(fits.code).toBe(0);
      const line = await netkit(['udp', 'send', '::1', port], { input: `${'y'.repeat(MAX_UDP6_PAYLOAD)}\n` });
      expect(line.code).toBe(0);
      await until(() => got.length === 2);
      expect(got).toEqual([MAX_UDP6_PAYLOAD, MAX_UDP6_PAYLOAD]);
      const over = await netkit(['udp', 'send', '::1', port, 'x'.repeat(MAX_UDP6_PAYLOAD + 1)]);
      expect(over.code).toBe(1);
      expect(over.stderr).toBe(
        'netkit: payload of 65,528 bytes is over the UDP limit of 65,527 bytes per IPv6 datagram\n',
      );
      const overLine = await netkit(['udp', 'send', '::1', port], {
        input: `${'y'.repeat(MAX_UDP6_PAYLOAD + 1)}\n`,
      });
      expect(overLine.code).toBe(1);
      expect(overLine.stderr).toBe(
        'netkit: a stdin line is over the UDP limit of 65,527 bytes per IPv6 datagram\n',
      );
      expect(got).toHaveLength(2);
    } finally {
      await listener.close();
    }
  });
});
