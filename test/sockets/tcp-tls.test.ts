/**
 * `tcp connect --tls` / `tcp listen --tls` (ncat --ssl): the library on loopback, then the CLI
 * against independent TLS peers — `ncat --ssl -l` (its own temporary certificate, and one we made
 * with `openssl req -x509`), `openssl s_server`, a Python `ssl` server that answers only after
 * end-of-file, and as clients of our listener `ncat --ssl`, `openssl s_client`, `curl` and Python
 * `ssl`. Certificates are made per run in a temp dir (the expired one with selfsigned, since
 * `openssl req` cannot back-date).
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  relay,
  type TcpConnectionInfo,
  type TcpTlsErrorInfo,
  tcpConnect,
  tcpListen,
} from '../../src/sockets/tcp.js';
import { have, netkit, run, tempDir } from '../helpers/net.js';
import { opensslCertificate } from '../helpers/openssl-cert.js';
import { freePort, spawnNetkit, spawnPeer, until } from './peers.js';

const PY = '/usr/bin/python3';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** binary payloads always carry NUL, 0xFF, CR and LF */
const payload = (n: number) => Buffer.concat([Buffer.from([0, 0xff, 0x0d, 0x0a, 0, 0xff]), randomBytes(n)]);

let dir: string;
let cleanup: () => Promise<void>;
let certFile: string;
let keyFile: string;
let cert: string;
let key: string;
let expiredCert: string;
let expiredKey: string;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-tcp-tls-'));
  ({ certFile, keyFile } = await opensslCertificate(dir, '/CN=localhost/O=netkit test'));
  cert = (await run('cat', [certFile])).stdout;
  key = (await run('cat', [keyFile])).stdout;
  const { generate } = await import('selfsigned');
  const end = new Date(Date.now() - 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(end.getTime() - 30 * 24 * 3600 * 1000),
    notAfterDate: end,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  } as never);
  expiredCert = path.join(dir, 'expired.pem');
  expiredKey = path.join(dir, 'expired-key.pem');
  await writeFile(expiredCert, pems.cert);
  await writeFile(expiredKey, pems.private);
});
afterAll(() => cleanup());

describe('TLS in the library', () => {
  it('connects verified, relays binary both ways, and half-closes (close_notify) to a server that answers after EOF', async () => {
    const listener = await tcpListen({ tls: { cert, key }, once: true });
    const served = new Promise<TcpConnectionInfo>((resolve) =>
      listener.once('connection', (c: TcpConnectionInfo) => {
        const chunks: Buffer[] = [];
        c.socket.on('data', (d: Buffer) => chunks.push(d));
        c.socket.on('end', () => c.socket.end(`${sha(Buffer.concat(chunks))}\n`));
        resolve(c);
      }),
    );
    const socket = await tcpConnect({
      host: '127.0.0.1',
      port: listener.port,
      tls: { ca: cert, servername: 'localhost' },
    });
    expect(socket.authorized).toBe(true);
    const input = new PassThrough();
    const output = new PassThrough();
    const got: Buffer[] = [];
    output.on('data', (d: Buffer) => got.push(d));
    const data = payload(300_000);
    const done = relay(socket, input, output);
    input.end(data);
    const stats = await done;
    expect(Buffer.concat(got).toString()).toBe(`${sha(data)}\n`);
    expect(stats.bytesSent).toBe(data.length);
    const c = await served;
    expect(c.tls).toMatchObject({ protocol: 'TLSv1.3', authorized: false });
    await listener.close();
  });

  it('a client that fails the handshake is reported and dropped; the listener keeps serving', async () => {
    const listener = await tcpListen({ tls: { cert, key }, echo: true });
    const failed = new Promise<TcpTlsErrorInfo>((r) => listener.once('tlsError', r));
    const plain = net.connect(listener.port, '127.0.0.1', () => plain.write('GET / HTTP/1.0\r\n\r\n'));
    plain.on('data', () => {});
    const closed = new Promise((r) => plain.once('close', r));
    const e = await failed;
    await closed;
    expect(e.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(e.error.message).toMatch(/not a TLS client\?/);
    const socket = await tcpConnect({ host: '127.0.0.1', port: listener.port, tls: { ca: cert } });
    const out = new PassThrough();
    const got: Buffer[] = [];
    out.on('data', (d: Buffer) => got.push(d));
    const data = payload(50_000);
    const input = new PassThrough();
    const done = relay(socket, input, out);
    input.end(data);
    await done;
    expect(sha(Buffer.concat(got))).toBe(sha(data));
    await listener.close();
  });

  it('tls without a context, or without both cert and key, is refused before listening', async () => {
    for (const tls of [{}, { cert }, { key }])
      await expect(tcpListen({ tls })).rejects.toMatchObject({
        code: 'NETKIT_INVALID_INPUT',
        message: 'tls: give a context, or both cert and key',
      });
  });

  it('the connect timeout covers the TLS handshake', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    await expect(tcpConnect({ host: '127.0.0.1', port, timeoutMs: 200, tls: true })).rejects.toMatchObject({
      code: 'NETKIT_TIMEOUT',
      message: `TLS handshake with 127.0.0.1:${port} timed out after 200 ms`,
    });
    silent.close();
  });
});

describe('tcp connect --tls against independent servers', () => {
  it('the peers are installed (ncat, openssl, curl, python3)', async () => {
    for (const cmd of ['ncat', 'openssl', 'curl', PY]) expect(await have(cmd), cmd).toBe(true);
  });

  it('ncat --ssl -l with its temporary certificate: refused without --insecure, relayed with it', async () => {
    const port = await freePort();
    const strict = await spawnPeer('ncat', ['-v', '--ssl', '-l', '127.0.0.1', String(port)], /Listening on/, {
      stream: 'stderr',
    });
    const refused = await netkit(['tcp', 'connect', '--tls', '127.0.0.1', String(port)], { input: 'x' });
    await strict.kill();
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(
      /^netkit: TLS certificate of 127\.0\.0\.1:\d+ not trusted \(self-signed certificate\); trust it with --ca FILE, or skip verification with --insecure\n$/,
    );

    const port2 = await freePort();
    const ncat = await spawnPeer('ncat', ['-v', '--ssl', '-l', '127.0.0.1', String(port2)], /Listening on/, {
      stream: 'stderr',
    });
    const toServer = payload(200_000);
    const toClient = payload(120_000);
    ncat.child.stdin!.end(toClient);
    // ncat exits at the client's EOF, whatever of its stdin it has not sent yet: our stdin ends
    // only once all of ncat's bytes are here, so the test does not race ncat's reads of its pipe
    const client = await spawnNetkit(
      ['tcp', 'connect', '--tls', '-k', '-v', '127.0.0.1', String(port2)],
      null,
    );
    client.child.stdin!.write(toServer);
    await until(() => client.stdout().length >= toClient.length, 20_000, "ncat's bytes");
    client.child.stdin!.end();
    expect(await client.exited, client.stderr()).toBe(0);
    await ncat.exited;
    expect(sha(client.stdout())).toBe(sha(toClient));
    expect(sha(ncat.stdout())).toBe(sha(toServer));
    expect(client.stderr()).toMatch(/^certificate NOT verified \(--insecure\): self-signed certificate$/m);
  });

  it('ncat --ssl -l with our certificate: verified with --ca and --servername; a wrong name is a clear error', async () => {
    for (const [name, ok] of [
      ['localhost', true],
      ['wrong.example', false],
    ] as const) {
      const port = await freePort();
      const ncat = await spawnPeer(
        'ncat',
        ['-v', '--ssl', '--ssl-cert', certFile, '--ssl-key', keyFile, '-l', '127.0.0.1', String(port)],
        /Listening on/,
        { stream: 'stderr' },
      );
      try {
        ncat.child.stdin!.end('hello from ncat\n');
        const r = await netkit(
          [
            'tcp',
            'connect',
            '--tls',
            '--ca',
            certFile,
            '--servername',
            name,
            '-v',
            '127.0.0.1',
            String(port),
          ],
          { input: 'hello from netkit\n' },
        );
        if (ok) {
          expect(r.code, r.stderr).toBe(0);
          expect(r.stdout).toBe('hello from ncat\n');
          await ncat.exited;
          expect(ncat.stdout().toString()).toBe('hello from netkit\n');
          expect(r.stderr).toMatch(/^TLS TLSv1\.[23], cipher \S+$/m);
          expect(r.stderr).toMatch(/^certificate subject: CN=localhost, O=netkit test$/m);
          expect(r.stderr).toMatch(/^certificate issuer: CN=localhost, O=netkit test$/m);
          expect(r.stderr).toMatch(/^certificate verified for localhost$/m);
        } else {
          expect(r.code).toBe(1);
          expect(r.stdout).toBe('');
          expect(r.stderr).toMatch(
            /^netkit: TLS certificate of 127\.0\.0\.1:\d+ is for another name \(.*wrong\.example.* is not in the cert's altnames: DNS:localhost, IP Address:127\.0\.0\.1\); give the name it carries with --servername NAME, or skip verification with --insecure\n$/,
          );
        }
      } finally {
        await ncat.kill();
      }
    }
  });

  it('a certificate from another CA than --ca is not trusted', async () => {
    const port = await freePort();
    const ncat = await spawnPeer('ncat', ['-v', '--ssl', '-l', '127.0.0.1', String(port)], /Listening on/, {
      stream: 'stderr',
    });
    try {
      const r = await netkit(['tcp', 'connect', '--tls', '--ca', certFile, '127.0.0.1', String(port)], {
        input: '',
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^netkit: TLS certificate of 127\.0\.0\.1:\d+ not trusted \(self-signed certificate\); trust it with --ca FILE/,
      );
    } finally {
      await ncat.kill();
    }
  });

  it('openssl s_server -www: -C sends CRLF, --alpn is negotiated, -v reports the session', async () => {
    const server = await spawnPeer(
      'openssl',
      [
        's_server',
        '-accept',
        '127.0.0.1:0',
        '-cert',
        certFile,
        '-key',
        keyFile,
        '-www',
        '-alpn',
        'http/1.1',
        '-naccept',
        '1',
      ],
      /ACCEPT 127\.0\.0\.1:(\d+)/,
    );
    try {
      const r = await netkit(
        [
          'tcp',
          'connect',
          '--tls',
          '--ca',
          certFile,
          '-C',
          '--alpn',
          'h2,http/1.1',
          '-v',
          'localhost',
          server.ready[1]!,
        ],
        { input: 'GET / HTTP/1.0\n\n' },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^HTTP\/1\.0 200 ok\r\n/);
      // s_server's status page shows the session it negotiated with us
      expect(r.stdout).toMatch(/Protocol\s*: TLSv1\.3/);
      expect(r.stderr).toMatch(/^TLS TLSv1\.3, cipher TLS_\w+, ALPN http\/1\.1$/m);
      expect(r.stderr).toMatch(/^certificate verified for localhost$/m);
    } finally {
      await server.kill();
    }
  });

  it('an expired certificate is refused with the reason (openssl s_server)', async () => {
    const server = await spawnPeer(
      'openssl',
      ['s_server', '-accept', '127.0.0.1:0', '-cert', expiredCert, '-key', expiredKey, '-naccept', '1'],
      /ACCEPT 127\.0\.0\.1:(\d+)/,
    );
    try {
      const r = await netkit(
        ['tcp', 'connect', '--tls', '--ca', expiredCert, '127.0.0.1', server.ready[1]!],
        {
          input: '',
        },
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `netkit: TLS certificate of 127.0.0.1:${server.ready[1]} not trusted (certificate has expired); skip verification with --insecure\n`,
      );
    } finally {
      await server.kill();
    }
  });

  it('half-close over TLS: a Python ssl server that answers only after EOF still answers', async () => {
    const EOF_SERVER = String.raw`
import hashlib, socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)
print('port', s.getsockname()[1], flush=True)
c = ctx.wrap_socket(s.accept()[0], server_side=True)
h = hashlib.sha256(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    h.update(d); n += len(d)
c.sendall(('%d %s\n' % (n, h.hexdigest())).encode())
c.unwrap().close()
`;
    const py = await spawnPeer(PY, ['-c', EOF_SERVER, certFile, keyFile], /port (\d+)\n/);
    const data = payload(150_000);
    const r = await netkit(
      ['tcp', 'connect', '--tls', '--ca', certFile, '--trace', 'localhost', py.ready[1]!],
      {
        input: data,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${data.length} ${sha(data)}\n`);
    const order = ['half-close', 'S: "', 'peer closed its side'].map((s) => r.stderr.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(await py.exited).toBe(0);
  });
});

/** Python ssl client: verifies against `cafile` as localhost, sends `n` bytes, reads them back. */
const PY_ECHO_CLIENT = `
import hashlib, socket, ssl, sys
port, cafile, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context(cafile=cafile)
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port)), server_hostname='localhost')
data = (bytes(range(256)) * (n // 256 + 1))[:n]
s.sendall(data)
got = b''
while len(got) < n:
    d = s.recv(65536)
    if not d: break
    got += d
print(s.version(), len(got), got == data, flush=True)
s.close()
`;

describe('tcp listen --tls with independent clients', () => {
  it('ncat --ssl client: binary both ways, and the listener still answers after the client half-closed', async () => {
    const { dir: data, cleanup: done } = await tempDir();
    const listen = await spawnNetkit(
      ['tcp', 'listen', '0', '--tls', '--data', data, '--json', '--trace'],
      /"port":(\d+)/,
    );
    try {
      const toServer = payload(100_000);
      const toClient = payload(80_000);
      const ncat = await spawnPeer('ncat', ['--ssl', '127.0.0.1', listen.ready[1]!], null);
      ncat.child.stdin!.end(toServer);
      // the client's close_notify/FIN has arrived; only now does our side start sending
      await until(() => /peer closed its side/.test(listen.stderr()), 10_000, 'the client half-close');
      listen.child.stdin!.end(toClient);
      expect(await ncat.exited).toBe(0);
      expect(await listen.exited).toBe(0);
      expect(sha(ncat.stdout())).toBe(sha(toClient));
      const out = listen.stdout();
      const nl = out.indexOf(10);
      expect(JSON.parse(out.subarray(0, nl).toString())).toMatchObject({ service: 'tcp', tls: true });
      expect(sha(out.subarray(nl + 1))).toBe(sha(toServer));
      expect(listen.stderr()).toMatch(/^connection from 127\.0\.0\.1:\d+ \(TLSv1\.3, TLS_\w+\)$/m);
    } finally {
      await listen.kill();
      await done();
    }
  });

  it('curl --cacert against --cert/--key, and curl -k against the dev certificate', async () => {
    const { dir: data, cleanup: done } = await tempDir();
    try {
      const response = 'HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n';
      for (const [flags, curlTrust] of [
        [
          ['--cert', certFile, '--key', keyFile],
          ['--cacert', certFile],
        ],
        [['--data', data], ['-k']],
      ] as const) {
        const listen = await spawnNetkit(['tcp', 'listen', '0', '--tls', ...flags, '--json'], /"port":(\d+)/);
        listen.child.stdin!.end(response);
        const port = listen.ready[1]!;
        const r = await run('curl', [
          '-sS',
          ...curlTrust,
          '--resolve',
          `localhost:${port}:127.0.0.1`,
          `https://localhost:${port}/path?q=1`,
        ]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe('hello\n');
        expect(await listen.exited).toBe(0);
        expect(listen.stdout().toString()).toMatch(/\nGET \/path\?q=1 HTTP\/1\.1\r\nHost: localhost:\d+\r\n/);
      }
    } finally {
      await done();
    }
  });

  it('--echo --keep-open: Python ssl (verifying the dev cert), openssl s_client and ncat --ssl; a plain-text client is dropped', async () => {
    const { dir: data, cleanup: done } = await tempDir();
    const listen = await spawnNetkit(
      ['tcp', 'listen', '0', '--tls', '--echo', '--keep-open', '--data', data, '--json'],
      /"port":(\d+)/,
    );
    try {
      const port = listen.ready[1]!;
      const devCert = path.join(data, 'tls', 'dev-cert.pem');
      const py = await run(PY, ['-c', PY_ECHO_CLIENT, port, devCert, '70000']);
      expect(py.stdout.trim(), py.stderr).toBe('TLSv1.3 70000 True');

      // a client that speaks plain text: dropped, reported, and the listener goes on
      const plain = await run(PY, [
        '-c',
        `import socket,sys\ns=socket.create_connection(('127.0.0.1',${port}))\ns.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\nprint(repr(s.recv(100)))`,
      ]);
      expect(plain.code, plain.stderr).toBe(0);
      await until(() => /TLS handshake failed/.test(listen.stderr()), 10_000, 'the handshake failure');
      expect(listen.stderr()).toMatch(/^127\.0\.0\.1:\d+: TLS handshake failed: .*\(not a TLS client\?\)$/m);

      const sc = await spawnPeer(
        'openssl',
        ['s_client', '-connect', `127.0.0.1:${port}`, '-quiet', '-ign_eof'],
        null,
      );
      const line = Buffer.from('through s_client \u0000\u00ff\n', 'latin1');
      sc.child.stdin!.write(line);
      await until(() => sc.stdout().equals(line), 10_000, 's_client to get its echo');
      await sc.kill();

      const ncat = await spawnPeer('ncat', ['--ssl', '127.0.0.1', port], null);
      const bytes = payload(60_000);
      ncat.child.stdin!.end(bytes);
      expect(await ncat.exited).toBe(0);
      expect(sha(ncat.stdout())).toBe(sha(bytes));

      const again = await run(PY, ['-c', PY_ECHO_CLIENT, port, devCert, '1000']);
      expect(again.stdout.trim()).toBe('TLSv1.3 1000 True');
      expect(listen.stderr().match(/^connection from .*\(TLSv1\.3/gm)).toHaveLength(4);
    } finally {
      await listen.kill();
      await done();
    }
  });

  it('without --keep-open, a failed handshake does not use up the one connection', async () => {
    const { dir: data, cleanup: done } = await tempDir();
    const listen = await spawnNetkit(
      ['tcp', 'listen', '0', '--tls', '--echo', '--data', data, '--json'],
      /"port":(\d+)/,
    );
    try {
      const port = listen.ready[1]!;
      const garbage = await run(PY, [
        '-c',
        `import os,socket\ns=socket.create_connection(('127.0.0.1',${port}))\ns.sendall(os.urandom(3000))\ntry: s.recv(10)\nexcept OSError: pass`,
      ]);
      expect(garbage.code, garbage.stderr).toBe(0);
      await until(() => /TLS handshake failed/.test(listen.stderr()), 10_000, 'the handshake failure');
      const py = await run(PY, ['-c', PY_ECHO_CLIENT, port, path.join(data, 'tls', 'dev-cert.pem'), '5000']);
      expect(py.stdout.trim(), py.stderr).toBe('TLSv1.3 5000 True');
      expect(await listen.exited).toBe(0);
    } finally {
      await listen.kill();
      await done();
    }
  });
});

describe('TLS usage errors', () => {
  it('TLS options need --tls; --insecure and --ca contradict; --cert needs --key; a bad --ca', async () => {
    const cases: Array<[string[], number, RegExp]> = [
      [['tcp', 'connect', '--insecure', '127.0.0.1', '9'], 2, /^netkit: --insecure needs --tls\n$/],
      [['tcp', 'connect', '--ca', 'x.pem', '127.0.0.1', '9'], 2, /^netkit: --ca needs --tls\n$/],
      [['tcp', 'connect', '--servername', 'a', '127.0.0.1', '9'], 2, /^netkit: --servername needs --tls\n$/],
      [['tcp', 'connect', '--tls', '-k', '--ca', 'x.pem', '127.0.0.1', '9'], 2, /cannot be used with/],
      [
        ['tcp', 'connect', '--tls', '--alpn', 'h2,,x', '127.0.0.1', '9'],
        2,
        /not a comma-separated list of ALPN/,
      ],
      [
        ['tcp', 'connect', '--tls', '--ca', '/nonexistent.pem', '127.0.0.1', '9'],
        1,
        /^netkit: cannot read --ca \/nonexistent\.pem: no such file or directory\n$/,
      ],
      [['tcp', 'listen', '0', '--cert', 'c.pem'], 2, /^netkit: --cert needs --tls\n$/],
      [['tcp', 'listen', '0', '--tls', '--cert', 'c.pem'], 2, /^netkit: --cert and --key go together\n$/],
    ];
    for (const [args, code, re] of cases) {
      const r = await netkit(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(re);
    }
    const notPem = path.join(dir, 'not.pem');
    await writeFile(notPem, 'hello');
    const r = await netkit(['tcp', 'connect', '--tls', '--ca', notPem, '127.0.0.1', '9']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`netkit: --ca ${notPem}: no PEM certificate in it\n`);
  });
});
