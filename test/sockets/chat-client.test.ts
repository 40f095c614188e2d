/**
 * The chat client: the library's greeting logic, and the CLI's interactive prompt driven through a
 * real pseudo-terminal (Python's `pty` module bridges our stdin/stdout to the terminal side), so the
 * "incoming lines never garble what you are typing" promise is checked on actual terminal output.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/sockets/chat-client.js';
import { type ChatServer, createChatServer } from '../../src/sockets/chat-server.js';
import { CLI, LineClient } from '../helpers/net.js';
import { until } from './peers.js';

const servers: ChatServer[] = [];
const clients: LineClient[] = [];
const cleanup: Array<() => void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) f();
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close(200);
});

async function start(): Promise<ChatServer> {
  const s = await createChatServer({ rateLimit: { perSecond: 0 } });
  servers.push(s);
  return s;
}

function lines(c: ChatClient): { all: string[]; until(re: RegExp): Promise<string> } {
  const all: string[] = [];
  const waiters: Array<() => void> = [];
  c.on('line', (l: string) => {
    all.push(l);
    for (const w of waiters.splice(0)) w();
  });
  return {
    all,
    async until(re) {
      for (;;) {
        const hit = all.find((l) => re.test(l));
        if (hit) return hit;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

describe('ChatClient', () => {
  it('takes its nickname on a netkit server before sending queued lines', async () => {
    const s = await start();
    const peer = await LineClient.connect(s.port);
    clients.push(peer);
    await peer.until(/You joined/);
    const c = await ChatClient.connect({ host: '127.0.0.1', port: s.port, nick: 'carol' });
    cleanup.push(() => c.close());
    const got = lines(c);
    c.send('queued before the banner');
    await got.until(/You are now known as carol/);
    expect(c.netkit).toBe(true);
    expect(await peer.until(/^<carol>/)).toBe('<carol> queued before the banner');
  });

  it('treats a silent server as a plain relay after the greeting timeout', async () => {
    const relayed: string[] = [];
    const srv = net.createServer((sock) => {
      sock.setEncoding('utf8');
      sock.on('data', (d: string) => {
        relayed.push(d);
        sock.write(`echo: ${d}`);
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    cleanup.push(() => srv.close());
    const port = (srv.address() as net.AddressInfo).port;
    const c = await ChatClient.connect({ host: '127.0.0.1', port, nick: 'dave', greetingTimeoutMs: 50 });
    cleanup.push(() => c.close());
    const ready = new Promise<boolean>((r) => c.once('ready', r));
    const got = lines(c);
    c.send('plain \u001b[2J line');
    expect(await ready).toBe(false);
    // the escape was sent as typed (it is the server's job to strip), but echoes are stripped on display
    expect(await got.until(/^echo:/)).toBe('echo: plain  line');
    expect(relayed.join('')).not.toContain('/nick');
  });

  it('rejects an invalid nickname before connecting', async () => {
    await expect(ChatClient.connect({ host: '127.0.0.1', port: 1, nick: '9lives' })).rejects.toMatchObject({
      code: 'NETKIT_USAGE',
    });
  });

  it('fails clearly when nothing listens', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    await expect(ChatClient.connect({ host: '127.0.0.1', port })).rejects.toMatchObject({
      code: 'NETKIT_CONNECT_FAILED',
      message: `connection refused by 127.0.0.1:${port}`,
    });
  });
});

/**
 * Has process `pid` stopped reading its TCP connection from `localPort` to `remotePort`? Node.js
 * stops reading a paused socket (once its stream buffer is full) and libuv then drops the
 * descriptor from the event loop's epoll set, which the kernel lists in the epoll descriptor's
 * /proc/PID/fdinfo: a socket in no epoll set is one the process no longer waits to read. Linux only.
 */
function stoppedReading(pid: number, localPort: number, remotePort: number): boolean {
  let inode: string | undefined;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      const port = (address: string | undefined) => Number.parseInt(address?.split(':')[1] ?? '', 16);
      if (port(f[1]) === localPort && port(f[2]) === remotePort) inode = f[9];
    }
  }
  if (inode === undefined) return false; // not connected (yet)
  let socketFd: string | undefined;
  const epolls: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target === `socket:[${inode}]`) socketFd = fd;
    else if (target === 'anon_inode:[eventpoll]') epolls.push(fd);
  }
  if (socketFd === undefined) return false;
  const watched = new RegExp(`^tfd:\\s+${socketFd}\\s`, 'm');
  return !epolls.some((fd) => watched.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')));
}

describe('chat join with a stdout nobody reads', () => {
  it('stops reading the server (backpressure) instead of buffering its flood', async () => {
    const line = Buffer.from(`${'x'.repeat(99)}\n`);
    const block = Buffer.concat(Array.from({ length: 10_000 }, () => line));
    // far more than the socket buffers of both ends hold: a client that reads it all is buffering it
    const limit = 128 * 1024 * 1024;
    let sent = 0;
    let flooded = false;
    let clientPort: number | undefined;
    const srv = net.createServer((s) => {
      clientPort = s.remotePort;
      s.on('error', () => {});
      const pump = (): void => {
        while (sent < limit && !s.destroyed) {
          sent += block.length;
          if (!s.write(block)) return void s.once('drain', pump);
        }
        flooded = sent >= limit;
      };
      pump();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as net.AddressInfo).port;
    // stdout is a pipe this test never reads; stdin stays open
    const child = spawn(process.execPath, [
      CLI,
      'chat',
      'join',
      `127.0.0.1:${port}`,
      '--greeting-timeout',
      '0',
    ]);
    child.stdout.pause();
    try {
      // the client stops reading the server once stdout is full (observed, not waited for), or
      // — without backpressure — it takes the whole flood into its memory
      await until(
        () => flooded || (clientPort !== undefined && stoppedReading(child.pid!, clientPort, port)),
        60_000,
        'chat join to stop reading the server',
      );
      const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;
      expect(flooded, 'chat join read the whole flood').toBe(false);
      expect(sent).toBeLessThan(64 * 1024 * 1024);
      expect(rss).toBeLessThan(150 * 1024 * 1024);
    } finally {
      child.kill();
      srv.close();
    }
  }, 60_000);
});

/** Runs a command on the slave side of a pty (80x24); our stdin goes to it, its output comes back. */
const PTY_BRIDGE = `
import fcntl, os, pty, select, struct, sys, termios
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
inputs = [fd, 0]
while True:
    r, _, _ = select.select(inputs, [], [])
    if fd in r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        os.write(1, data)
    if 0 in r:
        data = os.read(0, 65536)
        if data:
            os.write(fd, data)
        else:
            inputs = [fd]
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`;

class Terminal {
  readonly child: ChildProcessWithoutNullStreams;
  output = '';
  private waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;
  constructor(args: string[]) {
    this.child = spawn('/usr/bin/python3', ['-c', PTY_BRIDGE, process.execPath, CLI, ...args], {
      env: { ...process.env, TERM: 'xterm', NO_COLOR: '1' },
    });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      this.output += d;
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
  }
  /** Wait until the output after `from` matches; returns the index just past the match. */
  async waitFor(re: RegExp, from = 0, timeoutMs = 8000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.output.slice(from));
      if (m) return from + m.index + m[0].length;
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null)
        throw new Error(`terminal: no ${re} in ${JSON.stringify(this.output.slice(from))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
  type(text: string): void {
    this.child.stdin.write(text);
  }
}

describe('chat join on a terminal', () => {
  it('prints incoming lines above the prompt and redraws the half-typed input', async () => {
    const s = await start();
    const peer = await LineClient.connect(s.port);
    clients.push(peer);
    peer.send('/nick peer\n');
    await peer.until(/known as peer/);
    const term = new Terminal(['chat', 'join', `127.0.0.1:${s.port}`, '--nick', 'tty']);
    cleanup.push(() => term.child.kill('SIGKILL'));
    let at = await term.waitFor(/You are now known as tty\r\n/);
    at = await term.waitFor(/tty> /, at);
    await peer.until(/known as tty/);
    term.type('hel');
    at = await term.waitFor(/hel/, at);
    peer.send('incoming while you type\n');
    // the line is printed at the start of a cleared row, then the prompt comes back with "hel"
    const end = await term.waitFor(
      /<peer> incoming while you type\r\n(?:\u001b\[[0-9;]*[A-Za-z])*tty> hel/,
      at,
    );
    const segment = term.output.slice(at, end);
    expect(segment).toMatch(/\u001b\[0J|\u001b\[J/); // cleared the prompt row(s) first
    term.type('lo\r');
    expect(await peer.until(/^<tty>/)).toBe('<tty> hello');
    // Ctrl-D: leave politely
    term.type('\u0004');
    expect(await peer.until(/tty left/)).toBe('*** tty left #lobby (quit)');
    expect(await term.exited).toBe(0);
  });
});
