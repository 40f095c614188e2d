/**
 * TCP connect/listen/scan: the library on loopback, then the CLI against independent peers —
 * `ncat -l` for `tcp connect`, `nc` and `ncat` clients for `tcp listen`, and a Python socket server
 * that answers only after it has seen end-of-file (the half-close lesson).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { EventEmitter, once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/core/trace.js';
import { scanPorts } from '../../src/sockets/scan.js';
import { ServiceDb } from '../../src/sockets/services.js';
import { relay, type TcpConnectionInfo, tcpConnect, tcpListen } from '../../src/sockets/tcp.js';
import { have, netkit, tempDir } from '../helpers/net.js';
import { collect, freePort, spawnNetkit, spawnPeer, until } from './peers.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Python peer: reads until EOF, then replies with the byte count and SHA-256, then closes. */
const EOF_SERVER = String.raw`
import hashlib, socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.bind((sys.argv[1], 0)); s.listen(1)
print('port', s.getsockname()[1], flush=True)
c, _ = s.accept()
h = hashlib.sha256(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    h.update(d); n += len(d)
c.sendall(('%d %s\n' % (n, h.hexdigest())).encode())
c.close()
`;

/** Python client: connects, reads (in small pieces, like nc) until `total` bytes or EOF, prints the count and SHA-256. */
const HASH_CLIENT = `
import hashlib, socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
print('ready', flush=True)
total = int(sys.argv[2]); h = hashlib.sha256(); n = 0
while n < total:
    d = s.recv(1024)
    if not d: break
    h.update(d); n += len(d)
print(n, h.hexdigest(), flush=True)
`;

describe('tcp library', () => {
  it('relays binary data both ways and half-closes on input EOF', async () => {
    // a Node peer that answers only after EOF, proving the FIN arrives while we keep reading
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => s.end(`${sha(Buffer.concat(chunks))}\n`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const payload = randomBytes(300_000);
    const input = new PassThrough();
    const output = new PassThrough();
    const got: Buffer[] = [];
    output.on('data', (d: Buffer) => got.push(d));
    const socket = await tcpConnect({ host: '127.0.0.1', port });
    const tracer = new EventEmitter();
    const events: TraceEvent[] = [];
    tracer.on('trace', (e: TraceEvent) => events.push(e));
    const done = relay(socket, input, output, { tracer });
    input.end(payload);
    const stats = await done;
    expect(Buffer.concat(got).toString()).toBe(`${sha(payload)}\n`);
    expect(stats).toEqual({ bytesSent: payload.length, bytesReceived: 65 });
    expect(events.some((e) => e.kind === 'info' && /half-close/.test(e.text))).toBe(true);
    server.close();
  });

  it('keeps sending after the peer half-closes first', async () => {
    const received: Buffer[] = [];
    let serverSawEof!: () => void;
    const eof = new Promise<void>((r) => {
      serverSawEof = r;
    });
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      s.end('bye\n'); // FIN before reading anything
      s.on('data', (d: Buffer) => received.push(d));
      s.on('end', serverSawEof);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const socket = await tcpConnect({ host: '127.0.0.1', port });
    const input = new PassThrough();
    const output = new PassThrough();
    const done = relay(socket, input, output);
    await new Promise((r) => socket.once('end', r));
    const payload = randomBytes(100_000);
    input.end(payload);
    await Promise.all([done, eof]);
    expect(Buffer.concat(received).equals(payload)).toBe(true);
    expect(output.read().toString()).toBe('bye\n');
    server.close();
  });

  it('reports refused connections, unknown hosts and idle timeouts with stable codes', async () => {
    const port = await freePort();
    await expect(tcpConnect({ host: '127.0.0.1', port })).rejects.toMatchObject({
      code: 'NETKIT_CONNECT_FAILED',
      message: `connection refused by 127.0.0.1:${port}`,
    });
    await expect(tcpConnect({ host: 'no-such-host.invalid', port: 80 })).rejects.toMatchObject({
      code: 'NETKIT_NOT_FOUND',
    });
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const socket = await tcpConnect({ host: '127.0.0.1', port: (silent.address() as net.AddressInfo).port });
    await expect(relay(socket, null, null, { idleTimeoutMs: 100 })).rejects.toMatchObject({
      code: 'NETKIT_TIMEOUT',
    });
    silent.close();
  });

  it('listens once, or echoes, over IPv4 and IPv6', async () => {
    for (const host of ['127.0.0.1', '::1']) {
      const echo = await tcpListen({ host, echo: true });
      const data = randomBytes(200_000);
      expect((await collect(echo.port, data, host)).equals(data)).toBe(true);
      await echo.close();
    }
    const once = await tcpListen({ once: true });
    const conn = new Promise<TcpConnectionInfo>((r) => once.once('connection', r));
    const first = net.connect(once.port, '127.0.0.1');
    const c = await conn;
    expect(c.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    // no second connection is accepted
    await expect(
      new Promise<void>((resolve, reject) =>
        net.connect(once.port, '127.0.0.1', () => resolve()).once('error', reject),
      ),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    first.destroy();
    await once.close();
  });

  it('scans: open ports with service names, closed ports, on loopback only', async () => {
    const a = await tcpListen();
    const b = await tcpListen();
    const closed = await freePort();
    const services = new ServiceDb([{ name: 'demo', port: a.port, protocol: 'tcp', aliases: [] }], 'test');
    const report = await scanPorts({
      host: 'localhost',
      ports: [a.port, b.port, closed],
      concurrency: 2,
      services,
    });
    expect(report.address).toBe('127.0.0.1');
    expect(report.open.map((r) => r.port)).toEqual([a.port, b.port].sort((x, y) => x - y));
    expect(report.open.find((r) => r.port === a.port)?.service).toBe('demo');
    expect(report.open.find((r) => r.port === b.port)?.service).toBeUndefined();
    expect(report.results.find((r) => r.port === closed)?.state).toBe('closed');
    await Promise.all([a.close(), b.close()]);
  });
});

describe('tcp CLI with independent peers', () => {
  let ncatOk = false;
  let ncOk = false;
  beforeAll(async () => {
    ncatOk = await have('ncat');
    ncOk = await have('nc');
  });

  it('the peers are installed (ncat, nc, python3)', async () => {
    expect(ncatOk).toBe(true);
    expect(ncOk).toBe(true);
    expect(await have('python3')).toBe(true);
  });

  it('tcp connect sends binary stdin to `ncat -l` intact, even though ncat half-closes first', async () => {
    const port = await freePort();
    // stdin from /dev/null: ncat sends its FIN at once and keeps receiving
    const ncat = await spawnPeer('ncat', ['-v', '-l', '127.0.0.1', String(port)], /Listening on/, {
      stream: 'stderr',
      stdin: 'ignore',
    });
    const payload = randomBytes(250_000);
    const r = await netkit(['tcp', 'connect', '127.0.0.1', String(port)], { input: payload });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await ncat.exited;
    expect(sha(ncat.stdout())).toBe(sha(payload));
  });

  it('tcp connect writes what `ncat -l --send-only` sends to stdout, byte for byte', async () => {
    const port = await freePort();
    const payload = randomBytes(180_000);
    const ncat = await spawnPeer(
      'ncat',
      ['-v', '-l', '--send-only', '127.0.0.1', String(port)],
      /Listening on/,
      {
        stream: 'stderr',
      },
    );
    ncat.child.stdin!.end(payload);
    const r = await netkit(['tcp', 'connect', '127.0.0.1', String(port)]);
    expect(r.code).toBe(0);
    expect(sha(r.stdoutBuf)).toBe(sha(payload));
    await ncat.exited;
  });

  for (const host of ['127.0.0.1', '::1']) {
    it(`half-close: a peer that replies only after EOF still gets to reply (${host})`, async () => {
      const py = await spawnPeer('python3', ['-c', EOF_SERVER, host], /port (\d+)\n/);
      const payload = randomBytes(120_000);
      const r = await netkit(['tcp', 'connect', host, py.ready[1]!, '--trace'], { input: payload });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${payload.length} ${sha(payload)}\n`);
      // the trace shows the shutdown lesson in order: FIN sent, reply received, FIN received
      const order = ['half-close', 'S: "', 'peer closed its side'].map((s) => r.stderr.indexOf(s));
      expect(order.every((i) => i >= 0)).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      await py.exited;
    });
  }

  it('tcp listen: an `nc` client sends a file and receives our stdin', async () => {
    const listen = await spawnNetkit(['tcp', 'listen', '0', '--json'], /"port":(\d+)/);
    const port = listen.ready[1]!;
    const toServer = randomBytes(150_000);
    const toClient = randomBytes(90_000);
    listen.child.stdin!.end(toClient);
    const nc = await spawnPeer('nc', ['-N', '127.0.0.1', port], null);
    nc.child.stdin!.end(toServer);
    await nc.exited;
    expect(await listen.exited).toBe(0);
    expect(sha(nc.stdout())).toBe(sha(toClient));
    // stdout: the JSON listening line, then the raw bytes
    const out = listen.stdout();
    const nl = out.indexOf(10);
    expect(JSON.parse(out.subarray(0, nl).toString())).toMatchObject({ service: 'tcp', transport: 'tcp' });
    expect(sha(out.subarray(nl + 1))).toBe(sha(toServer));
    expect(listen.stderr()).toMatch(/^connection from 127\.0\.0\.1:\d+$/m);
  });

  it('tcp listen --echo --keep-open serves several `ncat` clients', async () => {
    const listen = await spawnNetkit(
      ['tcp', 'listen', '0', '--echo', '--keep-open', '--json'],
      /"port":(\d+)/,
    );
    try {
      for (let i = 0; i < 3; i++) {
        const payload = randomBytes(50_000 + i);
        const nc = await spawnPeer('ncat', ['127.0.0.1', listen.ready[1]!], null);
        nc.child.stdin!.end(payload);
        expect(await nc.exited).toBe(0);
        expect(sha(nc.stdout())).toBe(sha(payload));
      }
      expect(listen.stderr().match(/connection from/g)).toHaveLength(3);
    } finally {
      await listen.kill();
    }
  });

  it('tcp listen --keep-open relays every client to stdout and stdin to every client', async () => {
    const listen = await spawnNetkit(['tcp', 'listen', '0', '--keep-open', '--json'], /"port":(\d+)/);
    try {
      const port = Number(listen.ready[1]);
      const a = await LineReader.connect(port);
      const b = await LineReader.connect(port);
      await until(() => (listen.stderr().match(/connection from/g) ?? []).length === 2);
      a.socket.write('from a\n');
      b.socket.write('from b\n');
      await until(
        () => /from a/.test(listen.stdout().toString()) && /from b/.test(listen.stdout().toString()),
      );
      listen.child.stdin!.write('to all\n');
      expect(await a.line()).toBe('to all');
      expect(await b.line()).toBe('to all');
      a.socket.destroy();
      b.socket.destroy();
    } finally {
      await listen.kill();
    }
  });

  it('tcp listen --keep-open --max-per-ip 1: a second connection from one address is refused, another address is served', async () => {
    const listen = await spawnNetkit(
      ['tcp', 'listen', '0', '--keep-open', '--max-per-ip', '1', '--json'],
      /"port":(\d+)/,
    );
    try {
      const port = Number(listen.ready[1]);
      const a = await LineReader.connect(port);
      await until(() => (listen.stderr().match(/connection from/g) ?? []).length === 1);
      // the second one from 127.0.0.1 is closed by the server without being taken
      const refusedPort = await refusedConnection(port);
      await until(() => /refused/.test(listen.stderr()), 10_000, 'the refusal on stderr');
      expect(listen.stderr()).toMatch(
        new RegExp(
          `^connection from 127\\.0\\.0\\.1:${refusedPort} refused \\(--max-per-ip 1 from its address\\)$`,
          'm',
        ),
      );
      const other = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      await until(() => (listen.stderr().match(/connection from \S+\n/g) ?? []).length === 2);
      listen.child.stdin!.write('to all\n');
      expect(await a.line()).toBe('to all');
      other.destroy();
      a.socket.destroy();
    } finally {
      await listen.kill();
    }
  });

  it('tcp listen --keep-open: by default one address gets 10 of the 100 slots, and a refusal is told', async () => {
    const listen = await spawnNetkit(['tcp', 'listen', '0', '--keep-open', '--json'], /"port":(\d+)/);
    const sockets: net.Socket[] = [];
    try {
      const port = Number(listen.ready[1]);
      const accepted = () => (listen.stderr().match(/^connection from \S+$/gm) ?? []).length;
      for (let i = 0; i < 10; i++) sockets.push((await LineReader.connect(port)).socket);
      await until(() => accepted() === 10, 10_000, 'ten clients from 127.0.0.1');
      const eleventhPort = await refusedConnection(port);
      await until(() => /refused/.test(listen.stderr()), 10_000, 'the refusal on stderr');
      expect(listen.stderr()).toContain(
        `connection from 127.0.0.1:${eleventhPort} refused (--max-per-ip 10 from its address)`,
      );
      // another address still gets in
      sockets.push(net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }));
      await until(() => accepted() === 11, 10_000, 'a client from 127.0.0.2');
    } finally {
      for (const s of sockets) s.destroy();
      await listen.kill();
    }
  });

  it('tcp listen --keep-open: stdin through a pipe reaches two full-speed clients whole (backpressure)', async () => {
    const { dir, cleanup } = await tempDir();
    const listen = await spawnNetkit(['tcp', 'listen', '0', '--keep-open', '--json'], /"port":(\d+)/);
    try {
      const total = 48 * 1024 * 1024;
      const payload = randomBytes(total);
      const file = path.join(dir, 'big.bin');
      await writeFile(file, payload);
      const clients = await Promise.all(
        [1, 2].map(() => spawnPeer('python3', ['-c', HASH_CLIENT, listen.ready[1]!, String(total)], /ready/)),
      );
      await until(() => (listen.stderr().match(/connection from/g) ?? []).length === 2);
      // cat writes straight into netkit's stdin pipe: stdin is far faster than the clients
      const cat = spawn('cat', [file], { stdio: ['ignore', listen.child.stdin!, 'inherit'] });
      const catDone = new Promise((r) => cat.once('exit', r));
      await Promise.all([...clients.map((c) => c.exited), catDone]);
      expect(clients.map((c) => c.stdout().toString().trim())).toEqual([
        `ready\n${total} ${sha(payload)}`,
        `ready\n${total} ${sha(payload)}`,
      ]);
      expect(listen.stderr()).not.toMatch(/dropped/);
    } finally {
      await listen.kill();
      await cleanup();
    }
  }, 60_000);

  it('tcp listen --keep-open drops a client that stopped reading, once, and keeps serving the others', async () => {
    const listen = await spawnNetkit(
      ['tcp', 'listen', '0', '--keep-open', '--json', '--stall-timeout', '200ms'],
      /"port":(\d+)/,
    );
    try {
      const port = Number(listen.ready[1]);
      // more than the kernel buffers of the stalled client can absorb
      const total = 48 * 1024 * 1024;
      const reader = await Receiver.connect(port, total);
      const stalled = await LineReader.connect(port);
      stalled.socket.pause();
      await until(() => (listen.stderr().match(/connection from/g) ?? []).length === 2);
      const payload = randomBytes(total);
      listen.child.stdin!.write(payload);
      expect(await reader.done).toBe(sha(payload));
      await until(() => /disconnected/.test(listen.stderr()), 10_000, 'the stalled client to go');
      const drops = listen.stderr().match(/^127\.0\.0\.1:\d+: not reading, dropped$/gm) ?? [];
      expect(drops).toHaveLength(1);
      expect(drops[0]).toContain(`:${stalled.socket.localPort}:`);
      stalled.socket.destroy();
    } finally {
      await listen.kill();
    }
  }, 60_000);

  it('a port in use is one line and exit 1 for tcp listen, udp listen and chat serve (ncat: exit 2)', async () => {
    const tcpBusy = net.createServer();
    await new Promise<void>((r) => tcpBusy.listen(0, '127.0.0.1', r));
    const udpBusy = dgram.createSocket('udp4');
    await new Promise<void>((r) => udpBusy.bind(0, '127.0.0.1', r));
    try {
      const tcpPort = (tcpBusy.address() as net.AddressInfo).port;
      const udpPort = udpBusy.address().port;
      for (const [args, line] of [
        [['tcp', 'listen', String(tcpPort)], `tcp: port ${tcpPort} on 127.0.0.1 is already in use`],
        [
          ['tcp', 'listen', String(tcpPort), '-k', '--echo'],
          `tcp: port ${tcpPort} on 127.0.0.1 is already in use`,
        ],
        [
          ['chat', 'serve', '--port', String(tcpPort)],
          `chat: port ${tcpPort} on 127.0.0.1 is already in use`,
        ],
        [['udp', 'listen', String(udpPort)], `udp: port ${udpPort} on 127.0.0.1 is already in use`],
      ] as const) {
        const r = await netkit([...args]);
        expect([r.code, r.stderr], args.join(' ')).toEqual([1, `netkit: ${line}\n`]);
      }
    } finally {
      tcpBusy.close();
      udpBusy.close();
    }
  });

  it('tcp connect / udp send: -4 with an IPv6 literal (or -6 with IPv4) is a usage error, as in nc', async () => {
    for (const args of [
      ['tcp', 'connect', '-4', '::1', '9'],
      ['tcp', 'connect', '-6', '127.0.0.1', '9'],
      ['udp', 'send', '-4', '::1', '9', 'x'],
      ['udp', 'send', '-6', '127.0.0.1', '9', 'x'],
    ]) {
      const r = await netkit(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(
        /^netkit: (::1|127\.0\.0\.1) is an IPv[46] address, but -[46] asks for IPv[46]\n$/,
      );
    }
    await expect(tcpConnect({ host: '::1', port: 9, family: 4 })).rejects.toMatchObject({
      code: 'NETKIT_USAGE',
    });
  });

  it('tcp scan finds listening ports and names them; bad lists are usage errors', async () => {
    const a = await tcpListen();
    const closed = await freePort();
    const r = await netkit(['tcp', 'scan', '127.0.0.1', `${a.port},${closed}`, '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ address: '127.0.0.1', scanned: 2, closed: 1, filtered: 0 });
    expect(report.open).toEqual([expect.objectContaining({ port: a.port })]);
    const human = await netkit(['tcp', 'scan', '127.0.0.1', String(a.port)]);
    expect(human.stdout).toMatch(new RegExp(`^${a.port}/tcp\\s+open`, 'm'));
    expect(human.stdout).toMatch(/scanned 1 port on 127\.0\.0\.1 .*1 open, 0 closed, 0 filtered/);
    await a.close();
    const bad = await netkit(['tcp', 'scan', '127.0.0.1', '25-20']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^netkit: "25-20": range goes backwards\n$/);
  });

  it('tcp connect: refused is exit 1 with one line; a bad port is exit 2', async () => {
    const port = await freePort();
    const r = await netkit(['tcp', 'connect', '127.0.0.1', String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`netkit: connection refused by 127.0.0.1:${port}\n`);
    const bad = await netkit(['tcp', 'connect', '127.0.0.1', '70000']);
    expect(bad.code).toBe(2);
  });
});

/** Counts and hashes everything a server sends, resolving with the SHA-256 after `total` bytes. */
class Receiver {
  private constructor(
    readonly socket: net.Socket,
    readonly done: Promise<string>,
  ) {}
  static connect(port: number, total: number): Promise<Receiver> {
    return new Promise((resolve, reject) => {
      const hash = createHash('sha256');
      let n = 0;
      let finished!: (h: string) => void;
      const done = new Promise<string>((r) => {
        finished = r;
      });
      const s = net.connect(port, '127.0.0.1', () => resolve(new Receiver(s, done)));
      s.on('data', (d: Buffer) => {
        hash.update(d);
        n += d.length;
        if (n >= total) {
          finished(n === total ? hash.digest('hex') : `too many bytes: ${n}`);
          s.destroy();
        }
      });
      s.once('close', () => finished(`closed after ${n} bytes`));
      s.once('error', reject);
    });
  }
}

/** A tiny line reader for the keep-open test. */
/** Connect to a listener that closes the connection at once; resolves with its local port once closed. */
async function refusedConnection(port: number): Promise<number> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  socket.resume();
  await once(socket, 'connect');
  const localPort = socket.localPort!;
  await once(socket, 'close');
  return localPort;
}

class LineReader {
  private buf = '';
  private waiters: Array<(l: string) => void> = [];
  private lines: string[] = [];
  constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\n'); i !== -1; i = this.buf.indexOf('\n')) {
        const l = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const w = this.waiters.shift();
        if (w) w(l);
        else this.lines.push(l);
      }
    });
  }
  static connect(port: number): Promise<LineReader> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new LineReader(s)));
      s.once('error', reject);
    });
  }
  line(): Promise<string> {
    const l = this.lines.shift();
    return l !== undefined ? Promise.resolve(l) : new Promise((r) => this.waiters.push(r));
  }
}
