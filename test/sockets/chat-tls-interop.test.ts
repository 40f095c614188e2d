/**
 * The chat over TLS against independent peers. Our server (`chat serve --tls-port`, with a
 * certificate made by `openssl req`) joined over TLS by `ncat --ssl` (verifying, and not),
 * `openssl s_client` and Python's `ssl` module, each talking with an `nc`/`ncat` user on the plain
 * port; our `chat join --tls` against `ncat --ssl -l --chat` and against our own TLS-only server.
 * The peers must be installed (.ci/run installs them): a missing binary fails the test.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, have, LineClient, netkit, run, startServe, tempDir } from '../helpers/net.js';
import { opensslCertificate } from '../helpers/openssl-cert.js';
import { Proc } from './chat-peers.js';
import { freePort } from './peers.js';

const PY = '/usr/bin/python3';
let dir: string;
let cleanupDir: () => Promise<void>;
let cert: string;
let key: string;
let certPem: string;
const procs: Proc[] = [];
const clients: LineClient[] = [];
const stops: Array<() => Promise<void>> = [];

beforeAll(async () => {
  // the peers are part of the test: a missing one is a failure, never a skip
  for (const cmd of ['nc', 'ncat', 'openssl', PY])
    expect(await have(cmd), `${cmd} must be installed`).toBe(true);
  ({ dir, cleanup: cleanupDir } = await tempDir('netkit-chat-tls-'));
  ({ certFile: cert, keyFile: key } = await opensslCertificate(dir));
  certPem = await readFile(cert, 'utf8');
});
afterAll(async () => {
  await cleanupDir();
});
afterEach(async () => {
  for (const p of procs.splice(0)) p.kill();
  for (const c of clients.splice(0)) c.close();
  for (const stop of stops.splice(0)) await stop();
});

function proc(cmd: string, args: string[]): Proc {
  const p = new Proc(cmd, args);
  procs.push(p);
  return p;
}

/** `netkit chat serve` with a plain and a TLS port and our openssl certificate. */
async function serveBoth(): Promise<{ port: number; tlsPort: number }> {
  const srv = await startServe(
    ['chat', 'serve', '--port', '0', '--tls-port', '0', '--cert', cert, '--key', key, '--quiet'],
    2,
  );
  stops.push(srv.stop);
  const [plain, secure] = srv.listening;
  expect(plain).toMatchObject({ service: 'chat', host: '127.0.0.1', tls: false });
  expect(secure).toMatchObject({ service: 'chat', host: '127.0.0.1', tls: true });
  return { port: plain!.port, tlsPort: secure!.port };
}

/** Python's ssl module as a line client: verifies against `cafile`, relays stdin, prints lines. */
const PY_CLIENT = `
import socket, ssl, sys, threading
ctx = ssl.create_default_context(cafile=sys.argv[3])
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[2]))), server_hostname=sys.argv[1])
print('# ' + s.version(), file=sys.stderr, flush=True)
def pump():
    for line in sys.stdin:
        s.sendall(line.encode())
threading.Thread(target=pump, daemon=True).start()
for raw in s.makefile('rb'):
    print(raw.decode('utf-8', 'replace').rstrip('\\r\\n'), flush=True)
`;

/**
 * A TLS user and a plain user chat through our server: nicknames, messages both ways, a private
 * message, and the plain user's /quit seen by the TLS one.
 */
async function crossTalk(secure: Proc, plain: Proc, nickS: string, nickP: string): Promise<void> {
  expect(await secure.waitFor(/^\*\*\* Welcome/)).toMatch(/ \(TLS\) \(\d+ online\)\.$/);
  await secure.waitFor(/^\*\*\* You joined #lobby/);
  await plain.waitFor(/^\*\*\* You joined #lobby/);
  secure.send(`/nick ${nickS}\n`);
  await secure.waitFor(new RegExp(`^\\*\\*\\* You are now known as ${nickS}$`));
  plain.send(`/nick ${nickP}\n`);
  await plain.waitFor(new RegExp(`^\\*\\*\\* You are now known as ${nickP}$`));
  await secure.waitFor(new RegExp(`is now known as ${nickP}$`));
  secure.send(`hello from ${nickS}\n`);
  expect(await plain.waitFor(/^<.*> hello from/)).toBe(`<${nickS}> hello from ${nickS}`);
  plain.send(`hi back from ${nickP}\n`);
  expect(await secure.waitFor(/^<.*> hi back/)).toBe(`<${nickP}> hi back from ${nickP}`);
  plain.send(`/msg ${nickS} just for you\n`);
  expect(await secure.waitFor(/just for you/)).toBe(`*${nickP}* just for you`);
  plain.send('/quit\n');
  expect(await plain.waitFor(/^\*\*\* Bye!$/)).toBe('*** Bye!');
  // netcat keeps running until its stdin ends too
  plain.child.stdin.end();
  expect(await plain.exited).toBe(0);
  expect(await secure.waitFor(/left #lobby/)).toBe(`*** ${nickP} left #lobby (quit)`);
}

describe('chat over TLS: independent clients on our TLS port', () => {
  it('ncat --ssl, verifying our certificate (--ssl-verify --ssl-trustfile) ↔ nc on the plain port', async () => {
    const { port, tlsPort } = await serveBoth();
    const secure = proc('ncat', [
      '--ssl',
      '--ssl-verify',
      '--ssl-trustfile',
      cert,
      '--ssl-servername',
      'localhost',
      '127.0.0.1',
      String(tlsPort),
    ]);
    const plain = proc('nc', ['127.0.0.1', String(port)]);
    await crossTalk(secure, plain, 'ncatssl', 'ncuser');
  });

  it('ncat --ssl-verify refuses our certificate when it is not in its trust file', async () => {
    const { tlsPort } = await serveBoth();
    const secure = proc('ncat', [
      '-v',
      '--ssl',
      '--ssl-verify',
      '--ssl-trustfile',
      '/etc/ssl/certs/ca-certificates.crt',
      '--ssl-servername',
      'localhost',
      '127.0.0.1',
      String(tlsPort),
    ]);
    expect(await secure.waitFor(/verification/i, 'err')).toBe(
      'Ncat: Certificate verification failed (self-signed certificate).',
    );
    expect(await secure.exited).not.toBe(0);
  });

  it('openssl s_client -quiet (verifying) ↔ ncat on the plain port', async () => {
    const { port, tlsPort } = await serveBoth();
    const secure = proc('openssl', [
      's_client',
      '-quiet',
      '-connect',
      `127.0.0.1:${tlsPort}`,
      '-servername',
      'localhost',
      '-verify_hostname',
      'localhost',
      '-CAfile',
      cert,
      '-verify_return_error',
    ]);
    const plain = proc('ncat', ['127.0.0.1', String(port)]);
    await crossTalk(secure, plain, 'sclient', 'ncatuser');
  });

  it("Python's ssl module (verifying) ↔ plain ncat --ssl without verification, both over TLS", async () => {
    const { tlsPort } = await serveBoth();
    const py = proc(PY, ['-c', PY_CLIENT, 'localhost', String(tlsPort), cert]);
    expect(await py.waitFor(/^# TLSv1\.[23]$/, 'err')).toMatch(/TLSv1/);
    const ncat = proc('ncat', ['--ssl', '127.0.0.1', String(tlsPort)]);
    await crossTalk(py, ncat, 'python', 'ncatnoverify');
  });
});

describe('chat join --tls', () => {
  it('joins `ncat --ssl -l --chat`, verifying the certificate with --ca; without it, one clear error', async () => {
    const port = await freePort();
    const ncat = proc('ncat', [
      '-v',
      '--ssl',
      '--ssl-cert',
      cert,
      '--ssl-key',
      key,
      '-l',
      '--chat',
      '127.0.0.1',
      String(port),
    ]);
    await ncat.waitFor(/Listening on 127\.0\.0\.1:\d+/, 'err');

    // an empty data directory: no lab certificate to fall back on
    const empty = path.join(dir, 'empty-data');
    const refused = await netkit(['chat', 'join', '--tls', `127.0.0.1:${port}`, '--data', empty], {
      input: 'x\n',
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `netkit: TLS certificate of 127.0.0.1:${port} not trusted (self-signed certificate); trust it with --ca FILE, or skip verification with --insecure\n`,
    );
    const wrongName = await netkit(
      ['chat', 'join', '--tls', `127.0.0.1:${port}`, '--ca', cert, '--servername', 'chat.example.org'],
      { input: 'x\n' },
    );
    expect(wrongName.code).toBe(1);
    expect(wrongName.stderr).toMatch(
      /^netkit: TLS certificate of 127\.0\.0\.1:\d+ is for another name .*--servername/,
    );
    expect(wrongName.stderr.trim().split('\n')).toHaveLength(1);

    const peer = await LineClient.connectTls(port, { ca: certPem, servername: 'localhost' });
    clients.push(peer);
    await peer.until(/already connected/);
    const me = proc(process.execPath, [
      CLI,
      'chat',
      'join',
      '--tls',
      `127.0.0.1:${port}`,
      '--ca',
      cert,
      '--nick',
      'alice',
      '--greeting-timeout',
      '300ms',
    ]);
    await peer.until(/is connected as <user\d+>/);
    expect(await me.waitFor(/not a netkit chat server/, 'err')).toMatch(/--nick was not sent/);
    me.send('hello ncat over tls\n');
    expect(await peer.until(/hello ncat/)).toMatch(/^<user\d+> hello ncat over tls$/);
    peer.send('hi netkit\n');
    expect(await me.waitFor(/hi netkit/)).toMatch(/^<user\d+> hi netkit$/);
    me.child.stdin.end();
    expect(await me.exited).toBe(0);
    await peer.until(/is disconnected/);
  });

  it('joins our TLS-only server (chat serve --tls), trusting the lab certificate in --data', async () => {
    const data = path.join(dir, 'lab-data');
    const srv = await startServe(['chat', 'serve', '--tls', '--port', '0', '--data', data, '--quiet']);
    stops.push(srv.stop);
    expect(srv.listening).toEqual([
      { service: 'chat', host: '127.0.0.1', port: expect.any(Number), tls: true },
    ]);
    const port = srv.listening[0]!.port;
    const labCert = await readFile(path.join(data, 'tls', 'dev-cert.pem'), 'utf8');
    const peer = await LineClient.connectTls(port, { ca: labCert });
    clients.push(peer);
    await peer.until(/You joined/);
    peer.send('/nick peer\n');
    await peer.until(/known as peer$/);
    const me = proc(process.execPath, [
      CLI,
      'chat',
      'join',
      '--tls',
      `127.0.0.1:${port}`,
      '--data',
      data,
      '--nick',
      'bob',
    ]);
    await me.waitFor(/^\*\*\* You are now known as bob$/);
    me.send('secure hello\n');
    expect(await peer.until(/^<bob>/)).toBe('<bob> secure hello');
    peer.send('welcome bob\n');
    expect(await me.waitFor(/^<peer>/)).toBe('<peer> welcome bob');
    me.child.stdin.end();
    expect(await me.exited).toBe(0);
    expect(await peer.until(/bob left/)).toBe('*** bob left #lobby (connection closed)');
    // a plaintext client on the TLS-only port is not a chat user
    const plain = await run('nc', ['-q', '1', '127.0.0.1', String(port)], { input: '/nick intruder\n' });
    expect(plain.stdout).not.toMatch(/Welcome/);
    peer.send('/who\n');
    expect(await peer.until(/^\*\*\* In #lobby/)).toBe('*** In #lobby (1): peer');
  });

  it('--insecure skips verification', async () => {
    const { tlsPort } = await serveBoth();
    const r = await netkit(['chat', 'join', '--tls', '-k', `127.0.0.1:${tlsPort}`, '--nick', 'k'], {
      input: '/who\n',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\*\*\* In #lobby \(1\): k$/m);
  });
});

describe('chat CLI: TLS flags', () => {
  it('rejects contradictory or incomplete TLS flags with exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['chat', 'serve', '--tls', '--tls-port', '0', '--port', '0'], /--tls .*--tls-port/],
      [['chat', 'serve', '--port', '0', '--tls-port', '0', '--cert', cert], /--cert and --key go together/],
      [['chat', 'serve', '--port', '0', '--cert', cert, '--key', key], /need --tls or --tls-port/],
      [['chat', 'join', '127.0.0.1:1', '--insecure'], /need --tls/],
      [['chat', 'join', '127.0.0.1:1', '--ca', cert], /need --tls/],
    ];
    for (const [args, message] of cases) {
      const r = await netkit(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('a missing --cert file is a one-line error', async () => {
    const r = await netkit([
      'chat',
      'serve',
      '--port',
      '0',
      '--tls-port',
      '0',
      '--cert',
      'nope.pem',
      '--key',
      key,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^netkit: cannot read --cert nope\.pem/);
  });
});
