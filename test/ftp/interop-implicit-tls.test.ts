/**
 * Interop on the implicit-FTPS port of `netkit ftp serve --tls-port` (the built CLI, `--json`):
 * curl `ftps://` (--ssl-reqd, with the dev certificate as --cacert and with -k), lftp `ftps://`
 * (ls, get, put, a small mirror both ways; `ftps:initial-prot P`, which sends no PROT and so relies
 * on the port's PROT P default), Python's ftplib.FTP_TLS subclassed for implicit TLS, and our own
 * client (`netkit ftp ls|get|put` with ftps:// and --implicit-tls, and --tls on the plain port).
 * Checksums are compared on both sides.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netkit, run, startServe, tempDir } from '../helpers/net.js';
import { makeAccounts, PASSWORDS } from './fixture.js';

const PY = '/usr/bin/python3';
const auth = `alice:${PASSWORDS.alice}`;

let dir: string;
let cleanup: () => Promise<void>;
let root: string;
let data: string;
let cert: string;
let plainPort: number;
let tlsPort: number;
let stop: () => Promise<void>;
let serverLog = '';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const home = (p: string) => path.join(root, 'home/alice', p);

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-ftps-'));
  root = path.join(dir, 'ftp');
  data = path.join(dir, 'data');
  await mkdir(path.join(root, 'pub'), { recursive: true });
  await mkdir(path.join(root, 'home/alice'), { recursive: true });
  await writeFile(path.join(root, 'pub/readme.txt'), 'line one\nline two\n');
  await makeAccounts(data);
  const srv = await startServe(
    [
      'ftp',
      'serve',
      '--port',
      '0',
      '--tls-port',
      '0',
      '--data',
      data,
      '--root',
      root,
      '--login-delay',
      '10ms',
    ],
    2,
  );
  srv.child.stdout!.on('data', (d) => {
    serverLog += d.toString();
  });
  stop = srv.stop;
  const [plain, secure] = srv.listening;
  expect(plain).toMatchObject({ service: 'ftp', host: '127.0.0.1', tls: false });
  expect(secure).toMatchObject({ service: 'ftp', host: '127.0.0.1', tls: true });
  plainPort = plain!.port;
  tlsPort = secure!.port;
  cert = path.join(data, 'tls/dev-cert.pem');
});
afterAll(async () => {
  await stop?.();
  await cleanup?.();
});

const ftps = (p: string) => `ftps://127.0.0.1:${tlsPort}${p}`;

function curl(args: string[]) {
  return run('curl', ['-sS', '--max-time', '20', '--ssl-reqd', ...args]);
}

async function checksums(base: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else out[path.relative(base, full)] = sha256(await readFile(full));
    }
  };
  await walk(base);
  return out;
}

describe('curl ftps:// (implicit TLS)', () => {
  it('lists, uploads (-T) and downloads with the dev certificate as --cacert: checksums equal', async () => {
    const payload = randomBytes(600_000);
    const src = path.join(dir, 'curl-up.bin');
    await writeFile(src, payload);
    const up = await curl(['--cacert', cert, '-u', auth, '--ftp-create-dirs', '-T', src, ftps('/curl/')]);
    expect(up.code, up.stderr).toBe(0);
    expect(sha256(await readFile(home('curl/curl-up.bin')))).toBe(sha256(payload));
    const list = await curl(['--cacert', cert, '-u', auth, ftps('/curl/')]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/ 600000 .* curl-up\.bin\r?\n/);
    const down = await curl(['--cacert', cert, '-u', auth, ftps('/curl/curl-up.bin')]);
    expect(down.code, down.stderr).toBe(0);
    expect(sha256(down.stdoutBuf)).toBe(sha256(payload));
  });

  it('with -k: anonymous download, and the refusals keep their codes', async () => {
    const readme = await curl(['-k', ftps('/pub/readme.txt')]);
    expect(readme.code, readme.stderr).toBe(0);
    expect(readme.stdout).toBe('line one\nline two\n');
    // a refused command (not a transfer: curl would race its data handshake against the reply)
    const dele = await curl(['-k', '-Q', 'DELE /pub/readme.txt', ftps('/pub/')]);
    expect(dele.code).toBe(21);
    expect(dele.stderr).toMatch(/550/);
    const login = await curl(['-k', '-u', 'alice:wrong', ftps('/')]);
    expect(login.code).toBe(67);
    expect(login.stderr).toMatch(/530/);
  });

  it('a refused transfer reaches curl as the refusal, not as a reset of its TLS data connection', async () => {
    // curl opens the data connection and starts TLS on it before the server answers RETR/STOR;
    // resetting that connection on refusal made curl report exit 13 (bad PASV response) instead
    const src = path.join(dir, 'refused.bin');
    await writeFile(src, 'x'.repeat(1000));
    const upload = await curl(['-k', '-T', src, ftps('/pub/refused.bin')]);
    expect(upload.code).toBe(25); // CURLE_UPLOAD_FAILED
    expect(upload.stderr).toMatch(/532/); // anonymous may not store here
    const missing = await curl(['-k', ftps('/pub/no-such-file.txt')]);
    expect(missing.code).toBe(78); // CURLE_REMOTE_FILE_NOT_FOUND
  });

  it('a plain ftp:// curl on the TLS port fails instead of talking in clear', async () => {
    const r = await run('curl', ['-sS', '--max-time', '3', `ftp://127.0.0.1:${tlsPort}/pub/readme.txt`]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
  });
});

describe('lftp ftps:// (implicit TLS)', () => {
  it('ls, put, get and a small mirror both ways, verifying the dev certificate: checksums equal', async () => {
    const tree = path.join(dir, 'lftp-tree');
    const back = path.join(dir, 'lftp-back');
    for (let i = 0; i < 12; i++) {
      const sub = path.join(tree, `dir ${i % 3}`);
      await mkdir(sub, { recursive: true });
      await writeFile(path.join(sub, i % 4 === 0 ? `fïlé ${i}.bin` : `file-${i}.bin`), randomBytes(i * 3001));
    }
    const single = path.join(dir, 'lftp-single.bin');
    await writeFile(single, randomBytes(333_333));
    const r = await run(
      'lftp',
      [
        '-u',
        `alice,${PASSWORDS.alice}`,
        '-e',
        [
          `set ssl:ca-file "${cert}"`,
          'set net:max-retries 2',
          'set net:reconnect-interval-base 1',
          `put "${single}" -o single.bin`,
          `get single.bin -o "${path.join(dir, 'lftp-single-back.bin')}"`,
          `mirror -R --no-perms "${tree}" /lftp-mirrored`,
          `mirror /lftp-mirrored "${back}"`,
          'cls -1 /',
          'quit',
        ].join('; '),
        ftps(''),
      ],
      { timeoutMs: 25_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['/lftp-mirrored/', '/single.bin']));
    const sum = sha256(await readFile(single));
    expect(sha256(await readFile(home('single.bin')))).toBe(sum);
    expect(sha256(await readFile(path.join(dir, 'lftp-single-back.bin')))).toBe(sum);
    const expected = await checksums(tree);
    expect(Object.keys(expected)).toHaveLength(12);
    expect(await checksums(home('lftp-mirrored'))).toEqual(expected);
    expect(await checksums(back)).toEqual(expected);
  });

  it('ftps:initial-prot P (no PROT sent) works because data is protected by default; PROT C too', async () => {
    const lftp = (settings: string[]) =>
      run(
        'lftp',
        [
          '-u',
          `alice,${PASSWORDS.alice}`,
          '-e',
          [
            'set ssl:verify-certificate no',
            'set net:max-retries 1',
            'set net:timeout 5',
            ...settings,
            'cat prot.bin',
            'quit',
          ].join('; '),
          ftps(''),
        ],
        { timeoutMs: 20_000 },
      );
    const body = randomBytes(120_000);
    await writeFile(home('prot.bin'), body);
    const sum = sha256(body);
    const assumed = await lftp(['set ftps:initial-prot P']);
    expect(assumed.code, assumed.stderr).toBe(0);
    expect(sha256(assumed.stdoutBuf)).toBe(sum);
    const clear = await lftp(['set ftp:ssl-protect-data no']);
    expect(clear.code, clear.stderr).toBe(0);
    expect(sha256(clear.stdoutBuf)).toBe(sum);
  });
});

/** ftplib has no implicit TLS: the well-known recipe wraps the socket as soon as it is set. */
const PY_IMPLICIT = `
import ftplib, io, json, ssl, sys, hashlib
PORT = int(sys.argv[1])
CERT = sys.argv[2]
class ImplicitFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS for implicit FTPS: the control connection is TLS from the first byte."""
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sock = None
    @property
    def sock(self):
        return self._sock
    @sock.setter
    def sock(self, value):
        if value is not None and not isinstance(value, ssl.SSLSocket):
            value = self.context.wrap_socket(value, server_hostname=self.host)
        self._sock = value
def connect():
    ctx = ssl.create_default_context(cafile=CERT)
    f = ImplicitFTP_TLS(context=ctx, timeout=10)
    f.connect('127.0.0.1', PORT)
    return f
def code(fn, *a, **k):
    try:
        fn(*a, **k)
        return 'ok'
    except ftplib.all_errors as e:
        return str(e)[:3]
def get(f, name):
    b = io.BytesIO()
    f.retrbinary('RETR ' + name, b.write)
    return b.getvalue()
blob = bytes((i * 13 + 5) % 256 for i in range(400000))
R = {}
f = connect()
R['welcome'] = f.getwelcome()[:3]
R['version'] = f.sock.version()
R['login'] = f.login('alice', '${PASSWORDS.alice}')[:3]
R['auth'] = code(f.voidcmd, 'AUTH TLS')
R['prot'] = f.prot_p()[:3]
f.mkd('py')
f.cwd('py')
R['stor'] = f.storbinary('STOR blob.bin', io.BytesIO(blob))[:3]
R['retr'] = hashlib.sha256(get(f, 'blob.bin')).hexdigest() == hashlib.sha256(blob).hexdigest()
R['mlsd'] = sorted((n, x['type'], x['size']) for n, x in f.mlsd())
R['clear'] = f.prot_c()[:3]
R['clear_retr'] = get(f, 'blob.bin') == blob
R['quit'] = f.quit()[:3]
a = connect()
a.login()
a.prot_p()
R['anon_readme'] = get(a, '/pub/readme.txt').decode()
R['anon_stor'] = code(a.storbinary, 'STOR /pub/x.bin', io.BytesIO(b'x'))
a.quit()
g = connect()
g.login('gus', '${PASSWORDS.gus}')
g.prot_p()
R['guest_stor'] = g.storbinary('STOR g.bin', io.BytesIO(b'guest'))[:3]
R['guest_overwrite'] = code(g.storbinary, 'STOR g.bin', io.BytesIO(b'again'))
R['guest_delete'] = code(g.delete, 'g.bin')
g.quit()
R['expired'] = code(connect().login, 'old', '${PASSWORDS.old}')
print(json.dumps(R))
`;

describe('Python ftplib.FTP_TLS, implicit', () => {
  it('login, prot_p, storbinary, retrbinary, mlsd, prot_c; refusals keep their codes', async () => {
    const r = await run(PY, ['-c', PY_IMPLICIT, String(tlsPort), cert], { timeoutMs: 25_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({
      welcome: '220',
      version: expect.stringMatching(/^TLSv1\.[23]$/),
      login: '230',
      auth: '503',
      prot: '200',
      stor: '226',
      retr: true,
      mlsd: [['blob.bin', 'file', '400000']],
      clear: '200',
      clear_retr: true,
      quit: '221',
      anon_readme: 'line one\nline two\n',
      anon_stor: '532',
      guest_stor: '226',
      guest_overwrite: '553',
      guest_delete: '550',
      expired: '530',
    });
    expect(sha256(await readFile(home('py/blob.bin')))).toBe(
      sha256(Buffer.from(Array.from({ length: 400_000 }, (_, i) => (i * 13 + 5) % 256))),
    );
  });
});

describe('our client: netkit ftp ls|get|put', () => {
  const login = ['--user', 'alice', '--password', PASSWORDS.alice, '--data'];

  it('ftps:// and --implicit-tls on the TLS port, --tls on the plain port: checksums equal', async () => {
    const payload = randomBytes(250_000);
    const src = path.join(dir, 'ours.bin');
    await writeFile(src, payload);
    const mkdir = await netkit(['ftp', 'mkdir', ftps('/ours/'), ...login, data]);
    expect(mkdir.code, mkdir.stderr).toBe(0);
    const put = await netkit(['ftp', 'put', src, ftps('/ours/'), ...login, data, '--quiet']);
    expect(put.code, put.stderr).toBe(0);
    expect(sha256(await readFile(home('ours/ours.bin')))).toBe(sha256(payload));

    const ls = await netkit(['ftp', 'ls', ftps('/ours/'), ...login, data, '--json']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([expect.objectContaining({ name: 'ours.bin', size: 250_000 })]);

    const out = path.join(dir, 'ours-back.bin');
    const get = await netkit([
      'ftp',
      'get',
      `ftp://127.0.0.1:${tlsPort}/ours/ours.bin`,
      '--implicit-tls',
      ...login,
      data,
      '-o',
      out,
      '--quiet',
    ]);
    expect(get.code, get.stderr).toBe(0);
    expect(sha256(await readFile(out))).toBe(sha256(payload));

    const explicit = path.join(dir, 'ours-explicit.bin');
    const viaPlain = await netkit([
      'ftp',
      'get',
      `ftp://127.0.0.1:${plainPort}/ours/ours.bin`,
      '--tls',
      ...login,
      data,
      '-o',
      explicit,
      '--quiet',
    ]);
    expect(viaPlain.code, viaPlain.stderr).toBe(0);
    expect(sha256(await readFile(explicit))).toBe(sha256(payload));
  });

  it("a refused upload reports the server's 550, not a reset data connection", async () => {
    const src = path.join(dir, 'nowhere.bin');
    await writeFile(src, 'payload');
    for (const url of [ftps('/no-such-dir/'), `ftp://127.0.0.1:${plainPort}/no-such-dir/`]) {
      const extra = url.startsWith('ftps:') ? [] : ['--tls'];
      const put = await netkit(['ftp', 'put', src, url, ...login, data, '--quiet', ...extra]);
      expect(put.code).toBe(1);
      expect(put.stderr).toMatch(/550/);
      expect(put.stderr).not.toMatch(/ECONNRESET/);
    }
  });

  it('the JSON session log marks every one of these logins secure', () => {
    const logins = serverLog.split('\n').filter((l) => l.includes('"event":"login"'));
    expect(logins.length).toBeGreaterThan(0);
    expect(logins.every((l) => JSON.parse(l).secure === true)).toBe(true);
  });
});

describe('netkit ftp serve --tls-port flags', () => {
  it('documents --tls-port with an example', async () => {
    const r = await netkit(['ftp', 'serve', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--tls-port <port>/);
    expect(r.stdout).toMatch(/--handshake-timeout <duration>/);
    expect(r.stdout).toMatch(/netkit ftp serve --tls-port 9900/);
  });

  it('rejects --tls-port with --no-tls (exit 2) and a bad port (exit 2)', async () => {
    const noTls = await netkit([
      'ftp',
      'serve',
      '--port',
      '0',
      '--tls-port',
      '0',
      '--no-tls',
      '--data',
      data,
    ]);
    expect(noTls.code).toBe(2);
    expect(noTls.stderr).toMatch(/--tls-port needs TLS/);
    const bad = await netkit(['ftp', 'serve', '--tls-port', 'x']);
    expect(bad.code).toBe(2);
  });
});
