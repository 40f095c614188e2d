/**
 * The ncat options of `tcp connect` / `tcp listen` against independent peers: `-C/--crlf` (what
 * `ncat -l` and `nc` receive), `-s/--source` and `-p/--source-port` (what a Python server sees),
 * `--send-only` / `--recv-only` (ncat on the other side), and `--allow` / `--deny` (Python and `nc`
 * clients from 127.0.0.1 and 127.0.0.2, and an IPv4-mapped peer on an IPv6 socket).
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { tcpConnect } from '../../src/sockets/tcp.js';
import { netkit, run } from '../helpers/net.js';
import { freePort, spawnNetkit, spawnPeer, until } from './peers.js';

const PY = '/usr/bin/python3';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const toCrlf = (s: string) => s.replace(/(?<!\r)\n/g, '\r\n');

/** Python server: prints the peer's address and port, sends a line, closes. */
const PEER_SERVER = String.raw`
import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
print('port', s.getsockname()[1], flush=True)
c, a = s.accept()
print('peer %s %d' % a, flush=True)
c.sendall(b'hi\n'); c.close()
`;

/** Python client from `source`: sends a line, prints what comes back before the close (or "reset"). */
const SOURCE_CLIENT = String.raw`
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), source_address=(sys.argv[2], 0))
try:
    s.sendall(b'ping\n')
    got = b''
    while True:
        d = s.recv(100)
        if not d: break
        got += d
        if got.endswith(b'\n'): break
    print(repr(got), flush=True)
except ConnectionResetError:
    print('reset', flush=True)
`;

describe('-C/--crlf', () => {
  it('tcp connect -C: `ncat -l` receives CRLF for every lone LF, across pipe-sized chunks', async () => {
    const port = await freePort();
    const ncat = await spawnPeer('ncat', ['-v', '-l', '127.0.0.1', String(port)], /Listening on/, {
      stream: 'stderr',
      stdin: 'ignore',
    });
    // ~300 KB of lines ending in LF, CRLF or a lone CR: chunk boundaries land everywhere
    const ends = ['\n', '\r\n', '\r', '\n\n'];
    let text = 'EHLO me\nMAIL FROM:<a@b>\r\n';
    while (text.length < 300_000)
      text += `${'x'.repeat(Math.floor(Math.random() * 90))}${ends[Math.floor(Math.random() * 4)]}`;
    text += 'QUIT\n';
    const r = await netkit(['tcp', 'connect', '-C', '127.0.0.1', String(port)], { input: text });
    expect(r.code, r.stderr).toBe(0);
    await ncat.exited;
    const got = ncat.stdout().toString('latin1');
    expect(got.startsWith('EHLO me\r\nMAIL FROM:<a@b>\r\n')).toBe(true);
    expect(got.endsWith('QUIT\r\n')).toBe(true);
    expect(got.length).toBe(toCrlf(text).length);
    expect(got === toCrlf(text)).toBe(true);
  });

  it('without -C the bytes go unchanged', async () => {
    const port = await freePort();
    const ncat = await spawnPeer('ncat', ['-v', '-l', '127.0.0.1', String(port)], /Listening on/, {
      stream: 'stderr',
      stdin: 'ignore',
    });
    const r = await netkit(['tcp', 'connect', '127.0.0.1', String(port)], { input: 'a\nb\r\n' });
    expect(r.code).toBe(0);
    await ncat.exited;
    expect(ncat.stdout().toString()).toBe('a\nb\r\n');
  });

  it('tcp listen -C, once and with --keep-open: `nc` receives CRLF', async () => {
    const once = await spawnNetkit(['tcp', 'listen', '0', '-C', '--json'], /"port":(\d+)/);
    once.child.stdin!.end('USER bob\nPASS x\r\n');
    const nc = await spawnPeer('nc', ['-N', '127.0.0.1', once.ready[1]!], null);
    nc.child.stdin!.end();
    await nc.exited;
    expect(await once.exited).toBe(0);
    expect(nc.stdout().toString()).toBe('USER bob\r\nPASS x\r\n');

    const keep = await spawnNetkit(['tcp', 'listen', '0', '-C', '--keep-open', '--json'], /"port":(\d+)/);
    try {
      const client = await spawnPeer('nc', ['127.0.0.1', keep.ready[1]!], null);
      await until(() => /connection from/.test(keep.stderr()), 10_000, 'the connection');
      keep.child.stdin!.write('one\n');
      keep.child.stdin!.write('two\r');
      keep.child.stdin!.write('\nthree\n');
      await until(() => client.stdout().toString() === 'one\r\ntwo\r\nthree\r\n', 10_000, 'CRLF lines');
      await client.kill();
    } finally {
      await keep.kill();
    }
  });
});

describe('-s/--source and -p/--source-port', () => {
  it('the peer sees the source address and port we chose (127.0.0.2)', async () => {
    const py = await spawnPeer(PY, ['-c', PEER_SERVER], /port (\d+)\n/);
    const sourcePort = await freePort('127.0.0.2');
    const r = await netkit(
      ['tcp', 'connect', '-s', '127.0.0.2', '-p', String(sourcePort), '-v', '127.0.0.1', py.ready[1]!],
      { input: '' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hi\n');
    expect(r.stderr).toBe(`connected to 127.0.0.1:${py.ready[1]} from 127.0.0.2:${sourcePort}\n`);
    await py.exited;
    expect(py.stdout().toString()).toMatch(new RegExp(`^peer 127\\.0\\.0\\.2 ${sourcePort}$`, 'm'));

    // the source address alone: any port
    const py2 = await spawnPeer(PY, ['-c', PEER_SERVER], /port (\d+)\n/);
    const r2 = await netkit(['tcp', 'connect', '--source', '127.0.0.2', '127.0.0.1', py2.ready[1]!], {
      input: '',
    });
    expect(r2.code).toBe(0);
    await py2.exited;
    expect(py2.stdout().toString()).toMatch(/^peer 127\.0\.0\.2 \d+$/m);
  });

  it('the library binds the source too; a source not on this machine or a busy port is a clear error', async () => {
    const py = await spawnPeer(PY, ['-c', PEER_SERVER], /port (\d+)\n/);
    const socket = await tcpConnect({
      host: '127.0.0.1',
      port: Number(py.ready[1]),
      localAddress: '127.0.0.2',
    });
    expect(socket.localAddress).toBe('127.0.0.2');
    socket.destroy();
    await py.exited;

    const r = await netkit(['tcp', 'connect', '-s', '192.0.2.1', '127.0.0.1', '9'], { input: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('netkit: cannot bind source 192.0.2.1: the address is not on this machine\n');
    const busy = await spawnPeer(PY, ['-c', PEER_SERVER], /port (\d+)\n/);
    try {
      const r2 = await netkit(['tcp', 'connect', '-p', busy.ready[1]!, '127.0.0.1', busy.ready[1]!], {
        input: '',
      });
      expect(r2.code).toBe(1);
      expect(r2.stderr).toBe(`netkit: cannot bind source port ${busy.ready[1]}: the port is in use\n`);
    } finally {
      await busy.kill();
    }
  });

  it('usage errors: a source that is not an address, or of the other family', async () => {
    for (const [args, msg] of [
      [['-s', 'example.org', '127.0.0.1', '9'], '--source "example.org" is not an IPv4 or IPv6 address'],
      [['-s', '::1', '127.0.0.1', '9'], 'source ::1 is an IPv6 address, but 127.0.0.1 is IPv4'],
      [
        ['-s', '127.0.0.1', '-6', 'localhost', '9'],
        'source 127.0.0.1 is an IPv4 address, but -6 asks for IPv6',
      ],
      [['-p', '70000', '127.0.0.1', '9'], '"70000" is not a port'],
    ] as const) {
      const r = await netkit(['tcp', 'connect', ...args], { input: '' });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(msg);
    }
  });
});

describe('--send-only / --recv-only', () => {
  it('connect --send-only: ignores what ncat sends, and exits at end of stdin while ncat keeps the connection open', async () => {
    const port = await freePort();
    const ncat = await spawnPeer('ncat', ['-v', '-l', '127.0.0.1', String(port)], /Listening on/, {
      stream: 'stderr',
    });
    try {
      ncat.child.stdin!.write('server data\n'); // ncat's stdin stays open: it never closes first
      const ours = await spawnNetkit(
        ['tcp', 'connect', '--send-only', '--trace', '127.0.0.1', String(port)],
        null,
      );
      // the trace shows the server's line arrived; stdout must not get it
      await until(() => /S: "server data/.test(ours.stderr()), 10_000, 'the server data');
      const data = randomBytes(100_000);
      ours.child.stdin!.end(data);
      expect(await ours.exited).toBe(0);
      expect(ours.stdout().length).toBe(0);
      expect(ours.stderr()).toMatch(/closing \(send-only\)/);
      await ncat.exited;
      expect(sha(ncat.stdout())).toBe(sha(data));
    } finally {
      await ncat.kill();
    }
  });

  it('connect --recv-only: never reads stdin; what ncat sends arrives', async () => {
    const port = await freePort();
    const ncat = await spawnPeer('ncat', ['-v', '-l', '127.0.0.1', String(port)], /Listening on/, {
      stream: 'stderr',
    });
    const data = randomBytes(120_000);
    ncat.child.stdin!.end(data);
    const r = await netkit(['tcp', 'connect', '--recv-only', '127.0.0.1', String(port)], {
      input: 'must not be sent\n',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(sha(r.stdoutBuf)).toBe(sha(data));
    await ncat.exited;
    expect(ncat.stdout().length).toBe(0);
  });

  it('listen --recv-only sends nothing; listen --send-only drops what the client sends', async () => {
    const recv = await spawnNetkit(['tcp', 'listen', '0', '--recv-only', '--json'], /"port":(\d+)/);
    recv.child.stdin!.end('must not be sent\n');
    const nc = await spawnPeer('nc', ['-N', '127.0.0.1', recv.ready[1]!], null);
    nc.child.stdin!.end('from nc\n');
    await nc.exited;
    expect(await recv.exited).toBe(0);
    expect(nc.stdout().length).toBe(0);
    expect(recv.stdout().toString()).toMatch(/\nfrom nc\n$/);

    const send = await spawnNetkit(
      ['tcp', 'listen', '0', '--send-only', '--trace', '--json'],
      /"port":(\d+)/,
    );
    const nc2 = await spawnPeer('nc', ['127.0.0.1', send.ready[1]!], null);
    nc2.child.stdin!.write('from nc\n');
    await until(() => /C: "from nc/.test(send.stderr()), 10_000, 'the client line');
    send.child.stdin!.end('to nc\n');
    expect(await send.exited).toBe(0);
    await until(() => nc2.stdout().toString() === 'to nc\n', 10_000, 'nc to get the line');
    await nc2.kill();
    expect(send.stdout().toString()).not.toMatch(/from nc/);
  });

  it('--send-only and --recv-only contradict; --echo takes neither', async () => {
    for (const args of [
      ['tcp', 'connect', '--send-only', '--recv-only', '127.0.0.1', '9'],
      ['tcp', 'listen', '0', '--send-only', '--recv-only'],
      ['tcp', 'listen', '0', '--echo', '--crlf'],
      ['tcp', 'listen', '0', '--echo', '--send-only'],
    ]) {
      const r = await netkit(args, { input: '' });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/cannot be used with/);
    }
  });
});

describe('--allow / --deny', () => {
  it('--deny 127.0.0.1: that peer is closed at once and reported; 127.0.0.2 is served', async () => {
    const listen = await spawnNetkit(
      ['tcp', 'listen', '0', '--echo', '--keep-open', '--deny', '127.0.0.1', '--json'],
      /"port":(\d+)/,
    );
    try {
      const port = listen.ready[1]!;
      const denied = await run(PY, ['-c', SOURCE_CLIENT, port, '127.0.0.1']);
      expect(denied.stdout.trim(), denied.stderr).toMatch(/^(b''|reset)$/);
      await until(() => /denied/.test(listen.stderr()), 10_000, 'the report');
      expect(listen.stderr()).toMatch(/^connection from 127\.0\.0\.1:\d+ denied \(--deny 127\.0\.0\.1\)$/m);
      const allowed = await run(PY, ['-c', SOURCE_CLIENT, port, '127.0.0.2']);
      expect(allowed.stdout.trim()).toBe("b'ping\\n'");
      expect(listen.stderr()).toMatch(/^connection from 127\.0\.0\.2:\d+$/m);
    } finally {
      await listen.kill();
    }
  });

  it('--allow: others are turned away and the one-shot listener keeps waiting for an allowed peer (nc -s)', async () => {
    const listen = await spawnNetkit(
      ['tcp', 'listen', '0', '--allow', '127.0.0.2/32', '--json'],
      /"port":(\d+)/,
    );
    const port = listen.ready[1]!;
    const other = await run(PY, ['-c', SOURCE_CLIENT, port, '127.0.0.1']);
    expect(other.stdout.trim()).toMatch(/^(b''|reset)$/);
    await until(() => /denied/.test(listen.stderr()), 10_000, 'the report');
    expect(listen.stderr()).toMatch(/^connection from 127\.0\.0\.1:\d+ denied \(not in --allow\)$/m);
    listen.child.stdin!.end('welcome\n');
    const nc = await spawnPeer('nc', ['-N', '-s', '127.0.0.2', '127.0.0.1', port], null);
    nc.child.stdin!.end('hello\n');
    await nc.exited;
    expect(await listen.exited).toBe(0);
    expect(nc.stdout().toString()).toBe('welcome\n');
    expect(listen.stdout().toString()).toMatch(/\nhello\n$/);
  });

  it('an IPv4-mapped peer on an IPv6 socket matches an IPv4 rule', async () => {
    const listen = await spawnNetkit(
      [
        'tcp',
        'listen',
        '0',
        '--host',
        '::ffff:127.0.0.1',
        '--echo',
        '--keep-open',
        '--deny',
        '127.0.0.0/8',
        '--json',
      ],
      /"port":(\d+)/,
    );
    try {
      const r = await run(PY, ['-c', SOURCE_CLIENT, listen.ready[1]!, '127.0.0.1']);
      expect(r.stdout.trim()).toMatch(/^(b''|reset)$/);
      await until(() => /denied/.test(listen.stderr()), 10_000, 'the report');
      expect(listen.stderr()).toMatch(
        /^connection from \[::ffff:127\.0\.0\.1\]:\d+ denied \(--deny 127\.0\.0\.0\/8\)$/m,
      );
    } finally {
      await listen.kill();
    }
  });

  it('a malformed rule is a usage error', async () => {
    const r = await netkit(['tcp', 'listen', '0', '--allow', 'example.org']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"example\.org" is not an address or ADDRESS\/PREFIX/);
    const r2 = await netkit(['tcp', 'listen', '0', '--deny', '10.0.0.0/40']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/prefix \/40 is too long for IPv4/);
  });
});
