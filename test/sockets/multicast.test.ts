/**
 * Multicast on this host: every member uses the loopback interface (`127.0.0.1`), which works
 * with or without a default route, and a random port and group per test (never the lab's 5007).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeChatDatagram,
  encodeChatEnvelope,
  isMulticastAddress,
  MAX_DATAGRAM,
  MulticastChat,
  type MulticastChatMessage,
  type MulticastDatagram,
  MulticastSocket,
} from '../../src/sockets/multicast.js';
import { resolveMulticastInterface } from '../../src/sockets/multicast-iface.js';
import { CLI, netkit } from '../helpers/net.js';
import { expectBoundedStdoutDrops, spawnNetkit, until } from './peers.js';

const IFACE = '127.0.0.1';
const open: Array<{ close(): Promise<void> }> = [];
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const s of open.splice(0)) await s.close();
});

const randomPort = () => 20_000 + Math.floor(Math.random() * 30_000);
const randomGroup = () =>
  `239.255.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

/** The kernel's view of group memberships on `lo` (little-endian hex addresses in /proc/net/igmp). */
async function joinedOnLoopback(group: string): Promise<boolean> {
  const hex = group
    .split('.')
    .reverse()
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase();
  const text = await readFile('/proc/net/igmp', 'utf8');
  const lo = text.split(/\n(?=\d)/).find((block) => /^\d+\s+lo\s/.test(block)) ?? '';
  return lo.includes(hex);
}

function nextMessage<T>(emitter: { once(e: 'message', l: (m: T) => void): unknown }): Promise<T> {
  return new Promise((resolve) => emitter.once('message', resolve));
}

describe('multicast: pure parts', () => {
  it.each([
    ['239.255.0.1', true],
    ['224.0.0.1', true],
    ['239.255.255.255', true],
    ['223.255.255.255', false],
    ['240.0.0.1', false],
    ['127.0.0.1', false],
    ['ff02::1', true],
    ['ff15::1234', true],
    ['fe80::1', false],
    ['not-an-ip', false],
  ])('isMulticastAddress(%s) = %s', (addr, expected) => {
    expect(isMulticastAddress(addr)).toBe(expected);
  });

  it('encodes and decodes the chat envelope, recognising our own id', () => {
    const data = encodeChatEnvelope('abc', 'alice', 'hello');
    expect(JSON.parse(data.toString())).toEqual({
      app: 'netkit-mchat',
      v: 1,
      id: 'abc',
      nick: 'alice',
      text: 'hello',
    });
    const d: MulticastDatagram = { data, address: '127.0.0.1', port: 4000 };
    expect(decodeChatDatagram(d, 'abc')).toMatchObject({
      nick: 'alice',
      text: 'hello',
      self: true,
      plain: false,
    });
    expect(decodeChatDatagram(d, 'other')).toMatchObject({ self: false });
  });

  it.each([
    ['plain text', 'hi there\n', { nick: '10.0.0.5:4000', text: 'hi there', plain: true }],
    ['escapes stripped', '\u001b[2Jboom\u0007', { text: 'boom', plain: true }],
    ['JSON of another app', '{"app":"x","text":"t"}', { text: '{"app":"x","text":"t"}', plain: true }],
    ['broken JSON', '{"app":"netkit-mchat"', { plain: true }],
    [
      'hostile envelope',
      JSON.stringify({ app: 'netkit-mchat', id: 'x', nick: '\u001b]0;t\u0007eve', text: '\u001b[31mred' }),
      { nick: 'eve', text: 'red', plain: false },
    ],
    [
      'envelope without a nick',
      JSON.stringify({ app: 'netkit-mchat', text: 'anon' }),
      { nick: '10.0.0.5:4000' },
    ],
  ])('decodes %s', (_name, payload, expected) => {
    const d = { data: Buffer.from(payload), address: '10.0.0.5', port: 4000 };
    expect(decodeChatDatagram(d)).toMatchObject(expected);
  });

  it('rejects a group that is not multicast, and a bad TTL, as usage errors', async () => {
    await expect(MulticastSocket.open({ group: '10.0.0.1', port: randomPort() })).rejects.toMatchObject({
      code: 'NETKIT_USAGE',
    });
    await expect(
      MulticastSocket.open({ group: randomGroup(), port: randomPort(), ttl: 300, interface: IFACE }),
    ).rejects.toMatchObject({ code: 'NETKIT_USAGE' });
  });
});

describe('multicast: loopback', () => {
  it('two members chat; own messages come back marked', async () => {
    const group = randomGroup();
    const port = randomPort();
    const alice = await MulticastChat.open({ group, port, interface: IFACE, nick: 'alice' });
    open.push(alice);
    const bob = await MulticastChat.open({ group, port, interface: IFACE, nick: 'bob' });
    open.push(bob);
    expect(await joinedOnLoopback(group)).toBe(true);
    const atBob = nextMessage<MulticastChatMessage>(bob);
    const atAlice = nextMessage<MulticastChatMessage>(alice);
    await alice.say('hello group');
    expect(await atBob).toMatchObject({ nick: 'alice', text: 'hello group', self: false, plain: false });
    expect(await atAlice).toMatchObject({ nick: 'alice', text: 'hello group', self: true });
  });

  it('with loopback off, no socket on this host receives (ourselves included)', async () => {
    // IP_MULTICAST_LOOP governs the local copy of a datagram sent out of a real interface; on `lo`
    // the datagram itself comes back, so this test needs the host's external IPv4 interface
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    expect(external, 'a non-loopback IPv4 interface is needed for this test').toBeDefined();
    const iface = external!.address;
    const group = randomGroup();
    const port = randomPort();
    const quiet = await MulticastChat.open({ group, port, interface: iface, nick: 'quiet', loopback: false });
    open.push(quiet);
    const loud = await MulticastChat.open({ group, port, interface: iface, nick: 'loud' });
    open.push(loud);
    const heard: string[] = [];
    quiet.on('message', (m: MulticastChatMessage) => heard.push(`quiet got ${m.text}`));
    const atLoud: string[] = [];
    loud.on('message', (m: MulticastChatMessage) => atLoud.push(m.text));
    await quiet.say('unheard');
    // a marker sent with loopback on arrives after anything the first send could have produced
    const marker = nextMessage<MulticastChatMessage>(quiet);
    await loud.say('marker');
    expect((await marker).text).toBe('marker');
    expect(heard).toEqual(['quiet got marker']);
    expect(atLoud).not.toContain('unheard');
  });

  it('refuses a datagram over the UDP limit before sending', async () => {
    const s = await MulticastSocket.open({
      group: randomGroup(),
      port: randomPort(),
      interface: IFACE,
      receive: false,
    });
    open.push(s);
    await expect(s.send(Buffer.alloc(MAX_DATAGRAM + 1))).rejects.toMatchObject({ code: 'NETKIT_TOO_LARGE' });
  });

  it('an IPv6 group takes the IPv6 limit (65,527 bytes), not the IPv4 one', async () => {
    const s = await MulticastSocket.open({
      group: 'ff15::1234',
      port: randomPort(),
      interface: '::1',
      receive: false,
    });
    open.push(s);
    // over lo the kernel may answer ENETUNREACH (no IPv6 multicast route); what matters is that
    // netkit itself lets the payload through
    const fits = await s.send(Buffer.alloc(MAX_DATAGRAM + 20)).then(
      () => 'sent',
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(fits).not.toBe('NETKIT_TOO_LARGE');
    await expect(s.send(Buffer.alloc(MAX_DATAGRAM + 21))).rejects.toMatchObject({
      code: 'NETKIT_TOO_LARGE',
      message: 'payload of 65,528 bytes is over the UDP limit of 65,527 bytes per IPv6 datagram',
    });
  });

  it('close() leaves the group', async () => {
    const group = randomGroup();
    const s = await MulticastSocket.open({ group, port: randomPort(), interface: IFACE });
    expect(await joinedOnLoopback(group)).toBe(true);
    await s.close();
    expect(await joinedOnLoopback(group)).toBe(false);
  });
});

/** Spawn the CLI and collect stdout lines. */
function cli(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  let stderr = '';
  const waiters: Array<() => void> = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buf += d;
    let i = buf.indexOf('\n');
    while (i !== -1) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
    for (const w of waiters.splice(0)) w();
  });
  child.stderr.on('data', (d) => {
    stderr += d;
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    lines,
    exited,
    get stderr() {
      return stderr;
    },
    async until(pred: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!pred()) {
        const left = deadline - Date.now();
        if (left <= 0 || child.exitCode !== null)
          throw new Error(`no ${what}; stdout: ${lines.join('|')}; stderr: ${stderr}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
  };
}

describe('multicast: CLI', () => {
  it('listen --json sees chat and send; chat marks its own lines and leaves on SIGTERM', async () => {
    const group = randomGroup();
    const port = String(randomPort());
    const common = ['--group', group, '--port', port, '--interface', IFACE];
    const listener = cli(['multicast', 'listen', ...common, '--json', '--count', '2']);
    await listener.until(() => listener.lines.length > 0, 'joined line');
    expect(JSON.parse(listener.lines[0]!)).toEqual({ event: 'joined', group, port: Number(port) });

    const chat = cli(['multicast', 'chat', ...common, '--nick', 'carol', '--json', '--trace']);
    await chat.until(() => chat.lines.length > 0, 'joined line');
    expect(JSON.parse(chat.lines[0]!)).toMatchObject({ event: 'joined', group, nick: 'carol' });
    chat.child.stdin.write('hello from carol\n');
    await chat.until(() => chat.lines.length > 1, 'own message');
    expect(JSON.parse(chat.lines[1]!)).toMatchObject({ nick: 'carol', text: 'hello from carol', self: true });

    const sent = await netkit(['multicast', 'send', ...common, 'plain datagram']);
    expect(sent.code).toBe(0);
    await chat.until(() => chat.lines.length > 2, 'plain datagram');
    expect(JSON.parse(chat.lines[2]!)).toMatchObject({ text: 'plain datagram', self: false, plain: true });

    expect(await listener.exited).toBe(0);
    const got = listener.lines.slice(1).map((l) => JSON.parse(l));
    expect(got[0]).toMatchObject({ chat: { nick: 'carol', text: 'hello from carol' } });
    expect(got[1]).toMatchObject({ text: 'plain datagram', size: 14 });

    expect(await joinedOnLoopback(group)).toBe(true);
    chat.child.kill('SIGTERM');
    expect(await chat.exited).toBe(0);
    expect(chat.stderr).toMatch(new RegExp(`left ${group.replace(/\./g, '\\.')}`));
    expect(JSON.parse(chat.lines.at(-1)!)).toEqual({ event: 'left', group, port: Number(port) });
    expect(await joinedOnLoopback(group)).toBe(false);
  });

  it('listen --json carries any payload exactly, as udp listen --json: hex, and text only when it is text', async () => {
    const group = randomGroup();
    const port = randomPort();
    const common = ['--group', group, '--port', String(port), '--interface', IFACE];
    const listener = cli(['multicast', 'listen', ...common, '--json', '--count', '3']);
    await listener.until(() => listener.lines.length > 0, 'joined line');
    const sock = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => sock.bind(0, IFACE, resolve));
      sock.setMulticastInterface(IFACE);
      for (const payload of [Buffer.from([0, 0xff, 0xfe, 0xc3]), Buffer.alloc(0), Buffer.from('hi\n')])
        await new Promise((resolve) => sock.send(payload, port, group, resolve));
      expect(await listener.exited).toBe(0);
    } finally {
      sock.close();
    }
    const got = listener.lines.slice(1).map((l) => JSON.parse(l));
    expect(got.map(({ size, text, hex }) => ({ size, text, hex }))).toEqual([
      { size: 4, text: null, hex: '00fffec3' },
      { size: 0, text: '', hex: '' },
      { size: 3, text: 'hi\n', hex: '68690a' },
    ]);
  });

  it('chat in a pipe: sends its input, prints the group, leaves when input ends', async () => {
    const group = randomGroup();
    const port = String(randomPort());
    const common = ['--group', group, '--port', port, '--interface', IFACE];
    const listener = cli(['multicast', 'listen', ...common, '--count', '1']);
    await listener.until(() => listener.stderr.includes('listening on'), 'listening line');
    const r = await netkit(['multicast', 'chat', ...common, '--nick', 'dave', '--linger', '200ms'], {
      input: 'one line\n',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('dave (me): one line\n');
    expect(r.stderr).toMatch(/joined .* as dave/);
    expect(r.stderr).toMatch(/left /);
    expect(await listener.exited).toBe(0);
    expect(listener.lines).toEqual([`127.0.0.1:${port} dave: one line`]);
  });

  it('--interface for an IPv6 group: a local address maps to its interface, anything else is refused', async () => {
    const ifs = {
      lo: [{ address: '::1', family: 'IPv6' }],
      eth0: [{ address: 'fe80::fc:ff:fe00:1', family: 'IPv6' }],
    } as unknown as NodeJS.Dict<os.NetworkInterfaceInfo[]>;
    expect(resolveMulticastInterface('ff02::1:3', '::1', ifs)).toBe('::%lo');
    expect(resolveMulticastInterface('ff02::1:3', '0:0::1', ifs)).toBe('::%lo');
    expect(resolveMulticastInterface('ff02::1:3', 'fe80::fc:ff:fe00:1', ifs)).toBe('::%eth0');
    expect(resolveMulticastInterface('ff02::1:3', 'eth0', ifs)).toBe('::%eth0');
    expect(resolveMulticastInterface('ff02::1:3', '::%eth0', ifs)).toBe('::%eth0');
    expect(resolveMulticastInterface('239.1.2.3', '127.0.0.1', ifs)).toBe('127.0.0.1');
    expect(resolveMulticastInterface('239.1.2.3', undefined, ifs)).toBeUndefined();
    expect(() => resolveMulticastInterface('ff02::1:3', '2001:db8::9', ifs)).toThrow(
      /no local interface has the address 2001:db8::9: use ::%NAME \(e\.g\. ::%lo or ::%eth0\)/,
    );
    expect(() => resolveMulticastInterface('ff02::1:3', '127.0.0.1', ifs)).toThrow(/is IPv4 but/);
    expect(() => resolveMulticastInterface('239.1.2.3', '::1', ifs)).toThrow(/must be a local IPv4 address/);
    // the CLI: never silently the default interface
    const bad = await netkit([
      'multicast',
      'send',
      '--group',
      'ff02::1:3',
      '--interface',
      '2001:db8::9',
      'x',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^netkit: no local interface has the address 2001:db8::9: use ::%/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const loName = Object.entries(os.networkInterfaces()).find(([, a]) =>
      a?.some((x) => x.address === '::1'),
    )?.[0];
    if (loName) {
      // ::1 is loopback's: it either works there or fails naming that interface (lo may lack MULTICAST)
      const r = await netkit([
        'multicast',
        'send',
        '--group',
        'ff02::1:3',
        '--interface',
        '::1',
        '--trace',
        'x',
      ]);
      expect(r.stderr).toContain(`::%${loName}`);
    }
  });

  it('listen: a stdout that is not read stays bounded; datagrams are dropped and counted on stderr', async () => {
    // anyone may send to a group as fast as they like: every datagram used to wait in stdout's
    // buffer for a reader that never came (hundreds of MiB in seconds)
    const group = randomGroup();
    const port = randomPort();
    const total = 25_000;
    const size = 8000;
    const listen = await spawnNetkit(
      [
        'multicast',
        'listen',
        '--group',
        group,
        '--port',
        String(port),
        '--interface',
        IFACE,
        '--json',
        '--trace',
      ],
      /"event":"joined"/,
    );
    listen.child.stdout!.pause();
    const sock = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => sock.bind(0, IFACE, resolve));
      sock.setMulticastInterface(IFACE);
      sock.setMulticastLoopback(true);
      const payload = Buffer.alloc(size, 'x');
      // the listener's trace of each datagram (stderr, read all along) is the flow control: at most
      // 8 are in flight (64 KB: within the socket's receive buffer), so none is lost in the kernel
      // and all reach the printing code
      const traced = ` ${size} bytes\n`;
      let seen = 0;
      let tail = '';
      let sent = 0;
      const pump = (chunk?: Buffer) => {
        if (chunk) {
          const text = tail + chunk.toString('latin1');
          seen += text.split(traced).length - 1;
          tail = text.slice(1 - traced.length);
        }
        for (; sent < total && sent - seen < 8; sent++) sock.send(payload, port, group);
      };
      listen.child.stderr!.on('data', pump);
      pump();
      await until(() => seen === total, 60_000, 'every datagram traced');
      listen.child.stderr!.off('data', pump);
      await expectBoundedStdoutDrops(listen, total, size);
    } finally {
      sock.close();
      await listen.kill();
    }
  }, 90_000);

  it('usage errors exit 2 with one line', async () => {
    const r = await netkit(['multicast', 'send', '--group', '10.1.2.3', '--interface', IFACE, 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/not a multicast group address/);
    const ttl = await netkit(['multicast', 'chat', '--nick', 'x', '--ttl', '256']);
    expect(ttl.code).toBe(2);
    const noNick = await netkit(['multicast', 'chat']);
    expect(noNick.code).toBe(2);
  });
});
