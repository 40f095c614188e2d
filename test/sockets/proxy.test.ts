/**
 * `tcp connect --proxy` against independent proxies: tinyproxy (HTTP CONNECT, with and without
 * Basic auth), `ncat -l --proxy-type http`, and Dante (`danted`, SOCKS5 and SOCKS4a). The target
 * behind them is a Node server on port 0 that greets with binary bytes, echoes, and closes only
 * after our FIN (so half-close through the tunnel is checked), or our TLS listener. RFC 1929
 * username/password is checked against a small in-test SOCKS5 server: Dante authenticates it
 * against system accounts, and a test must not create users on the machine. Misbehaving proxies
 * (overlong head, garbage, closing mid-handshake, silence) are in-test servers too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitForPort } from '../../bench/_net.mjs';
import type { TraceEvent } from '../../src/core/trace.js';
import { relay, type TcpConnectionInfo, tcpConnect, tcpListen } from '../../src/sockets/tcp.js';
import { netkit, run, tempDir } from '../helpers/net.js';
import { opensslCertificate } from '../helpers/openssl-cert.js';
import { startTinyproxy, type TinyproxyHandle } from '../helpers/tinyproxy.js';

const GREETING = Buffer.from([0x68, 0x69, 0, 0xff, 0x0d, 0x0a]);
const PAYLOAD = Buffer.concat([
  Buffer.from([0, 0xff, 0, 0x0a]),
  Buffer.from('through the tunnel\n'),
  Buffer.alloc(3000, 0xfe),
]);

let dir: string;
let cleanup: () => Promise<void>;
let target: net.Server;
let targetPort: number;
let closedPort: number;
/** a second target that greets and closes at once */
let greeter: net.Server;
let greeterPort: number;
let tinyproxy: TinyproxyHandle;
let tinyproxyAuth: TinyproxyHandle;
const children: ChildProcess[] = [];
let ncatPort: number;
let dantePort: number;
let cert: string;
let certFile: string;
let key: string;

/** Spawn a proxy that cannot listen on port 0 on a free port and wait until it accepts. */
async function startOnFreePort(make: (port: number) => Promise<[string, string[]]>): Promise<number> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const [cmd, args] = await make(port);
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    if (await waitForPort(port, { gaveUp: () => exited, pid: child.pid })) {
      children.push(child);
      return port;
    }
    child.kill('SIGKILL');
    if (attempt === 4) throw new Error(`${cmd} did not start: ${stderr}`);
  }
  throw new Error('unreachable');
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-proxy-'));
  // the target: greets, echoes, and closes only once it has our FIN
  target = net.createServer({ allowHalfOpen: true }, (s) => {
    s.write(GREETING);
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end());
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  targetPort = (target.address() as net.AddressInfo).port;
  closedPort = await freePort();
  greeter = net.createServer((s) => s.end(GREETING));
  await new Promise<void>((r) => greeter.listen(0, '127.0.0.1', r));
  greeterPort = (greeter.address() as net.AddressInfo).port;
  const pems = await opensslCertificate(dir, '/CN=localhost/O=netkit proxy test');
  certFile = pems.certFile;
  cert = (await run('cat', [pems.certFile])).stdout;
  key = (await run('cat', [pems.keyFile])).stdout;

  tinyproxy = await startTinyproxy(await subdir('tp'));
  tinyproxyAuth = await startTinyproxy(await subdir('tpa'), {
    auth: { user: 'alice', password: 'w0nder-land' },
  });
  ncatPort = await startOnFreePort(async (port) => [
    'ncat',
    ['-l', '--proxy-type', 'http', '127.0.0.1', String(port)],
  ]);
  const conf = path.join(dir, 'danted.conf');
  dantePort = await startOnFreePort(async (port) => {
    await writeFile(
      conf,
      [
        'logoutput: stderr',
        `internal: 127.0.0.1 port = ${port}`,
        'external: 127.0.0.1',
        'socksmethod: none',
        'clientmethod: none',
        'user.privileged: root',
        'user.unprivileged: nobody',
        'client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }',
        'socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }',
        '',
      ].join('\n'),
    );
    return ['/usr/sbin/danted', ['-f', conf, '-p', path.join(dir, 'danted.pid')]];
  });
}, 30_000);

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all([tinyproxy?.stop(), tinyproxyAuth?.stop()]);
  await new Promise<void>((r) => target.close(() => r()));
  await new Promise<void>((r) => greeter.close(() => r()));
  await cleanup();
});

async function subdir(name: string): Promise<string> {
  const d = path.join(dir, name);
  await run('mkdir', ['-p', d]);
  return d;
}

/**
 * Connect through `proxy`, send PAYLOAD and collect everything until the target closes. With
 * `halfClose` our FIN goes right after the payload and the echo must still come back; without,
 * the FIN waits for the whole echo (tinyproxy and ncat close the tunnel at the first FIN).
 */
async function roundTrip(proxy: string, halfClose = true): Promise<Buffer> {
  const socket = await tcpConnect({ host: '127.0.0.1', port: targetPort, proxy, timeoutMs: 5000 });
  const input = new PassThrough();
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  let got = 0;
  output.on('data', (d: Buffer) => {
    chunks.push(d);
    got += d.length;
    if (!halfClose && got === expected.length) input.end();
  });
  const done = relay(socket, input, output);
  if (halfClose) input.end(PAYLOAD);
  else input.write(PAYLOAD);
  await done;
  return Buffer.concat(chunks);
}

const expected = Buffer.concat([GREETING, PAYLOAD]);

describe('through independent proxies (library)', () => {
  it.each([
    ['tinyproxy', () => tinyproxy.url, false],
    ['tinyproxy with Basic auth', () => `http://alice:w0nder-land@127.0.0.1:${tinyproxyAuth.port}`, false],
    ['ncat --proxy-type http', () => `http://127.0.0.1:${ncatPort}`, false],
    ['Dante socks5', () => `socks5://127.0.0.1:${dantePort}`, true],
    ['Dante socks5h', () => `socks5h://127.0.0.1:${dantePort}`, true],
    ['Dante socks4a', () => `socks4a://127.0.0.1:${dantePort}`, true],
  ])('%s: binary both ways (half-close: %s)', async (_name, url, halfClose) => {
    const got = await roundTrip(url(), halfClose);
    expect(got.equals(expected)).toBe(true);
  });

  it('socks5h sends the name and Dante resolves it (localhost)', async () => {
    const tracer = new EventEmitter();
    const events: TraceEvent[] = [];
    tracer.on('trace', (e: TraceEvent) => events.push(e));
    const socket = await tcpConnect({
      host: 'localhost',
      port: targetPort,
      family: 4,
      proxy: `socks5h://127.0.0.1:${dantePort}`,
      tracer,
    });
    socket.destroy();
    expect(events.map((e) => e.text)).toContain(`SOCKS5 CONNECT localhost:${targetPort}`);
  });

  it('TLS inside a tinyproxy tunnel, verified against the target', async () => {
    const listener = await tcpListen({ tls: { cert, key }, echo: true, once: true });
    const socket = await tcpConnect({
      host: '127.0.0.1',
      port: listener.port,
      proxy: tinyproxy.url,
      tls: { ca: cert, servername: 'localhost' },
    });
    expect(socket.authorized).toBe(true);
    socket.write(PAYLOAD);
    const chunks: Buffer[] = [];
    let got = 0;
    for await (const c of socket) {
      chunks.push(c as Buffer);
      got += (c as Buffer).length;
      if (got === PAYLOAD.length) socket.end();
    }
    expect(Buffer.concat(chunks).equals(PAYLOAD)).toBe(true);
    await listener.close();
  });

  it('a wrong name in the certificate fails even through the proxy', async () => {
    const listener = await tcpListen({ tls: { cert, key }, echo: true, once: true });
    await expect(
      tcpConnect({
        host: '127.0.0.1',
        port: listener.port,
        proxy: `socks5://127.0.0.1:${dantePort}`,
        tls: { ca: cert, servername: 'not-localhost.example' },
      }),
    ).rejects.toThrow(
      /^TLS certificate of 127\.0\.0\.1:\d+ is for another name \(Host: not-localhost\.example\. /,
    );
    await listener.close();
  });

  it.each([
    [
      'tinyproxy without credentials',
      () => tinyproxyAuth.url,
      'NETKIT_AUTH',
      /requires authentication \(HTTP\/1\.[01] 407/,
    ],
    [
      'tinyproxy with a wrong password',
      () => `http://alice:nope@127.0.0.1:${tinyproxyAuth.port}`,
      'NETKIT_AUTH',
      /rejected the credentials \(HTTP\/1\.[01] 401 Unauthorized/,
    ],
  ])('%s', async (_name, url, code, message) => {
    const err = await tcpConnect({ host: '127.0.0.1', port: targetPort, proxy: url() }).catch((e) => e);
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  it.each([
    [
      'tinyproxy',
      () => tinyproxy.url,
      /HTTP proxy 127\.0\.0\.1:\d+ refused CONNECT to 127\.0\.0\.1:\d+: HTTP\/1\.[01] 5\d\d/,
    ],
    [
      'ncat',
      () => `http://127.0.0.1:${ncatPort}`,
      /refused CONNECT to 127\.0\.0\.1:\d+: HTTP\/1\.[01] [45]\d\d/,
    ],
    [
      'Dante',
      () => `socks5://127.0.0.1:${dantePort}`,
      /SOCKS5 proxy 127\.0\.0\.1:\d+ could not connect to 127\.0\.0\.1:\d+: connection refused by destination host \(SOCKS5 reply 5\)/,
    ],
  ])('%s: unreachable target is a clear error', async (_name, url, message) => {
    const err = await tcpConnect({
      host: '127.0.0.1',
      port: closedPort,
      proxy: url(),
      timeoutMs: 5000,
    }).catch((e) => e);
    expect(err.message).toMatch(message);
  });

  it('a proxy that is not there', async () => {
    await expect(
      tcpConnect({ host: '127.0.0.1', port: targetPort, proxy: `http://127.0.0.1:${closedPort}` }),
    ).rejects.toThrow(
      `cannot reach HTTP proxy 127.0.0.1:${closedPort}: connection refused by 127.0.0.1:${closedPort}`,
    );
  });
});

/** A fake proxy on port 0 that runs `behave` on each connection. */
async function fakeProxy(
  behave: (s: net.Socket) => void,
): Promise<{ url: (scheme?: string) => string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    behave(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: (scheme = 'http') => `${scheme}://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Answer once the request head (or `n` bytes) has arrived. */
function afterBytes(s: net.Socket, n: number, then: () => void): void {
  let got = 0;
  const onData = (d: Buffer) => {
    got += d.length;
    if (got >= n) {
      s.off('data', onData);
      then();
    }
  };
  s.on('data', onData);
}

describe('misbehaving proxies', () => {
  it.each([
    [
      'an endless response head',
      (s: net.Socket) =>
        afterBytes(s, 1, () => s.write(`HTTP/1.1 200 OK\r\n${'X-Pad: aaaaaaaa\r\n'.repeat(2000)}`)),
      /response head over 16384 bytes/,
    ],
    [
      'garbage',
      (s: net.Socket) => afterBytes(s, 1, () => s.write('\x00\xffgarbage\r\n\r\n')),
      /did not answer like an HTTP proxy/,
    ],
    [
      'a close mid-head',
      (s: net.Socket) => afterBytes(s, 1, () => s.end('HTTP/1.1 200 Conn')),
      /closed the connection in the middle of its response/,
    ],
    [
      'a close without answer',
      (s: net.Socket) => afterBytes(s, 1, () => s.end()),
      /closed the connection without answering CONNECT/,
    ],
    [
      'a reset',
      (s: net.Socket) => afterBytes(s, 1, () => s.resetAndDestroy()),
      /connection reset during the handshake|closed the connection/,
    ],
  ])('HTTP: %s', async (_name, behave, message) => {
    const p = await fakeProxy(behave);
    await expect(tcpConnect({ host: '127.0.0.1', port: 9, proxy: p.url(), timeoutMs: 5000 })).rejects.toThrow(
      message,
    );
    await p.close();
  });

  it('a silent proxy runs into --timeout, naming the proxy handshake', async () => {
    const p = await fakeProxy(() => {});
    await expect(
      tcpConnect({ host: '127.0.0.1', port: 9, proxy: p.url('socks5h'), timeoutMs: 300 }),
    ).rejects.toThrow(
      /proxy handshake for 127\.0\.0\.1:9 via SOCKS5 proxy 127\.0\.0\.1:\d+ timed out after 300 ms/,
    );
    await p.close();
  });

  it('SOCKS5: an HTTP server is not a SOCKS proxy; a close mid-reply is named', async () => {
    const http = await fakeProxy((s) => afterBytes(s, 1, () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    await expect(tcpConnect({ host: '127.0.0.1', port: 9, proxy: http.url('socks5') })).rejects.toThrow(
      /is not a SOCKS5 proxy: it answered "HTTP\/1.1 400/,
    );
    await http.close();
    // method "none" at once, then half a reply to the CONNECT request and a close
    const half = await fakeProxy((s) => {
      s.write(Buffer.from([5, 0]));
      afterBytes(s, 4, () => s.end(Buffer.from([5, 0, 0, 1, 127])));
    });
    await expect(tcpConnect({ host: '127.0.0.1', port: 9, proxy: half.url('socks5') })).rejects.toThrow(
      /SOCKS5 proxy 127\.0\.0\.1:\d+ closed the connection during the CONNECT request/,
    );
    await half.close();
  });

  it('tunnel bytes sent with the 200 reach the output', async () => {
    const p = await fakeProxy((s) =>
      afterBytes(s, 1, () => s.end(Buffer.concat([Buffer.from('HTTP/1.0 200 OK\r\n\r\n'), GREETING]))),
    );
    const socket = await tcpConnect({ host: '127.0.0.1', port: 9, proxy: p.url() });
    const chunks: Buffer[] = [];
    socket.end();
    for await (const c of socket) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(GREETING)).toBe(true);
    await p.close();
  });
});

describe('RFC 1929 against an in-test SOCKS5 server', () => {
  /** A minimal SOCKS5 server: username/password `bob`/`pa:ss`, then a tunnel to the target. */
  function socks5Server(s: net.Socket): void {
    let buf = Buffer.alloc(0);
    let stage = 0;
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2 && buf.length >= 2 + buf[1]!) {
        const methods = [...buf.subarray(2, 2 + buf[1]!)];
        buf = buf.subarray(2 + buf[1]!);
        stage = 1;
        s.write(Buffer.from([5, methods.includes(2) ? 2 : 0xff]));
        if (!methods.includes(2)) s.end();
      }
      if (
        stage === 1 &&
        buf.length >= 2 &&
        buf.length >= 3 + buf[1]! &&
        buf.length >= 3 + buf[1]! + buf[2 + buf[1]!]!
      ) {
        const ulen = buf[1]!;
        const user = buf.subarray(2, 2 + ulen).toString();
        const plen = buf[2 + ulen]!;
        const pass = buf.subarray(3 + ulen, 3 + ulen + plen).toString();
        buf = buf.subarray(3 + ulen + plen);
        const ok = user === 'bob' && pass === 'pa:ss';
        s.write(Buffer.from([1, ok ? 0 : 1]));
        if (!ok) return void s.end();
        stage = 2;
      }
      if (stage === 2 && buf.length >= 10 && buf[3] === 1) {
        const port = buf.readUInt16BE(8);
        s.off('data', onData);
        const up = net.connect({ host: [...buf.subarray(4, 8)].join('.'), port, allowHalfOpen: true }, () => {
          s.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
          s.pipe(up);
          up.pipe(s);
        });
        up.on('error', () => s.destroy());
      }
    };
    s.on('data', onData);
  }

  it('authenticates, tunnels, and rejects a wrong password or a missing one', async () => {
    const p = await fakeProxy((s) => {
      (s as unknown as { allowHalfOpen: boolean }).allowHalfOpen = true;
      socks5Server(s);
    });
    const url = p.url('socks5').replace('//', '//bob:pa%3Ass@');
    expect((await roundTrip(url)).equals(expected)).toBe(true);
    await expect(
      tcpConnect({ host: '127.0.0.1', port: targetPort, proxy: p.url('socks5').replace('//', '//bob:x@') }),
    ).rejects.toThrow(/rejected the user name or password \(RFC 1929 status 1\)/);
    await expect(tcpConnect({ host: '127.0.0.1', port: targetPort, proxy: p.url('socks5') })).rejects.toThrow(
      /requires authentication \(no acceptable method\)/,
    );
    await p.close();
  });
});

describe('netkit tcp connect --proxy (CLI)', () => {
  it('relays binary stdin/stdout through Dante and half-closes (--proxy-type socks5)', async () => {
    const r = await netkit(
      [
        'tcp',
        'connect',
        '--proxy',
        `127.0.0.1:${dantePort}`,
        '--proxy-type',
        'socks5',
        '127.0.0.1',
        String(targetPort),
      ],
      { input: PAYLOAD },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdoutBuf.equals(expected)).toBe(true);
  });

  it('through tinyproxy with --proxy-auth: -v says via proxy, --trace hides the password', async () => {
    const r = await netkit([
      'tcp',
      'connect',
      '--proxy',
      `127.0.0.1:${tinyproxyAuth.port}`,
      '--proxy-auth',
      'alice:w0nder-land',
      '-v',
      '--trace',
      '--recv-only',
      '127.0.0.1',
      String(greeterPort),
    ]);
    expect(r.stderr).toMatch(
      new RegExp(
        `connected to 127\\.0\\.0\\.1:${greeterPort} via proxy http://alice:\\*\\*\\*\\*@127\\.0\\.0\\.1:${tinyproxyAuth.port}`,
      ),
    );
    expect(r.stderr).toContain(`C: CONNECT 127.0.0.1:${greeterPort} HTTP/1.1`);
    expect(r.stderr).toMatch(/S: HTTP\/1\.[01] 200/);
    expect(r.stderr).toContain('C: Proxy-Authorization: Basic ****');
    expect(r.stderr).not.toContain('w0nder');
    expect(r.stderr).not.toContain(Buffer.from('alice:w0nder-land').toString('base64'));
    expect(r.code).toBe(0);
    expect(r.stdoutBuf.equals(GREETING)).toBe(true);
  });

  it('-C and --tls through Dante (SOCKS5), verified with --ca', async () => {
    const listener = await tcpListen({ tls: { cert, key }, once: true });
    const served = new Promise<string>((resolve) =>
      listener.once('connection', (c: TcpConnectionInfo) => {
        let text = '';
        c.socket.on('data', (d: Buffer) => {
          text += d.toString('latin1');
        });
        c.socket.on('end', () => {
          c.socket.end('bye\n');
          resolve(text);
        });
      }),
    );
    const r = await netkit(
      [
        'tcp',
        'connect',
        '--proxy',
        `socks5h://127.0.0.1:${dantePort}`,
        '--tls',
        '--ca',
        certFile,
        '--servername',
        'localhost',
        '-C',
        '-v',
        '127.0.0.1',
        String(listener.port),
      ],
      { input: 'EHLO me\nQUIT\n' },
    );
    expect(r.stderr).toContain('certificate verified for localhost');
    expect(r.stderr).toContain(`via proxy socks5h://127.0.0.1:${dantePort}`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('bye\n');
    expect(await served).toBe('EHLO me\r\nQUIT\r\n');
    await listener.close();
  });

  it.each([
    [['--proxy', 'https://h:1'], 2, /unsupported proxy scheme "https:"/],
    [['--proxy-auth', 'a:b'], 2, /--proxy-auth needs --proxy/],
    [['--proxy', 'socks5://h:1', '--proxy-type', 'http'], 2, /contradicts/],
  ])('usage errors: %j', async (args, code, message) => {
    const r = await netkit(['tcp', 'connect', ...args, '127.0.0.1', '9']);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('407 and a refused target are one-line errors, exit 1, no password shown', async () => {
    const denied = await netkit([
      'tcp',
      'connect',
      '--proxy',
      `http://alice:badpw@127.0.0.1:${tinyproxyAuth.port}`,
      '127.0.0.1',
      String(targetPort),
    ]);
    expect(denied.code).toBe(1);
    expect(denied.stderr.trim().split('\n')).toHaveLength(1);
    expect(denied.stderr).toMatch(/rejected the credentials/);
    expect(denied.stderr).not.toContain('badpw');
    const refused = await netkit([
      'tcp',
      'connect',
      '--proxy',
      `socks5://127.0.0.1:${dantePort}`,
      '127.0.0.1',
      String(closedPort),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/connection refused by destination host \(SOCKS5 reply 5\)/);
  });
});
