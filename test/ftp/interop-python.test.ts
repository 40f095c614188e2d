/**
 * Interop: Python's ftplib.FTP and ftplib.FTP_TLS (Debian's /usr/bin/python3) against our server —
 * every account class, MLSD, NLST, binary transfers both ways, REST resume, rename, delete, active
 * mode, and every permission refusal with its reply code.
 */
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../helpers/net.js';
import { type Fixture, PASSWORDS, startFixture } from './fixture.js';
import { python } from './ftplib.js';

let fx: Fixture;
let tlsOnly: Fixture;

beforeAll(async () => {
  fx = await startFixture();
  tlsOnly = await startFixture({ requireTls: true }, { base: fx.base });
});
afterAll(async () => {
  await tlsOnly.server.close(200);
  await fx.cleanup();
});

describe('Python ftplib against netkit ftp serve', () => {
  it('real account: mkd, store, size, retrieve, REST resume both ways, rename, mlsd, nlst, delete', async () => {
    const r = await python(
      `
f = plain()
R['login'] = f.login('alice', '${PASSWORDS.alice}')[:3]
R['pwd'] = f.pwd()
R['mkd'] = f.mkd('work')
f.cwd('work')
R['stor'] = f.storbinary('STOR blob.bin', io.BytesIO(blob))[:3]
R['size'] = f.size('blob.bin')
R['same'] = get(f, 'blob.bin') == blob
R['tail'] = get(f, 'blob.bin', rest=299990) == blob[299990:]
half = 123457
f.storbinary('STOR resumed.bin', io.BytesIO(blob[:half]))
src = io.BytesIO(blob); src.seek(half)
R['rest_stor'] = f.storbinary('STOR resumed.bin', src, rest=half)[:3]
R['resumed_same'] = get(f, 'resumed.bin') == blob
R['rename'] = f.rename('resumed.bin', 'renamed.bin')[:3]
R['nlst'] = sorted(f.nlst())
R['mlsd'] = sorted((n, x['type'], x.get('size'), x['perm']) for n, x in f.mlsd())
R['mlsd_facts'] = sorted(n for n, x in f.mlsd(facts=['size']))
R['delete'] = f.delete('renamed.bin')[:3]
R['delete_missing'] = code(f.delete, 'renamed.bin')
R['escape'] = code(f.cwd, '../../..')
f.cwd('/')
R['rmd_nonempty'] = code(f.rmd, 'work')
f.delete('work/blob.bin')
R['rmd'] = code(f.rmd, 'work')
f.set_pasv(False)
R['active_stor'] = f.storbinary('STOR active.bin', io.BytesIO(blob[:5000]))[:3]
R['active_retr'] = get(f, 'active.bin') == blob[:5000]
R['quit'] = f.quit()[:3]
`,
      fx.port,
    );
    expect(r).toEqual({
      login: '230',
      pwd: '/',
      mkd: '/work',
      stor: '226',
      size: 300000,
      same: true,
      tail: true,
      rest_stor: '226',
      resumed_same: true,
      rename: '250',
      nlst: ['blob.bin', 'renamed.bin'],
      mlsd: [
        ['blob.bin', 'file', '300000', 'adfrw'],
        ['renamed.bin', 'file', '300000', 'adfrw'],
      ],
      mlsd_facts: ['blob.bin', 'renamed.bin'],
      delete: '250',
      delete_missing: '550',
      escape: '550',
      rmd_nonempty: '550',
      rmd: 'ok',
      active_stor: '226',
      active_retr: true,
      quit: '221',
    });
  });

  it('guest account: upload and download, refusals 553 / 550, expired guest 530, wrong password 530', async () => {
    const r = await python(
      `
f = plain()
R['login'] = f.login('gus', '${PASSWORDS.gus}')[:3]
R['stor'] = f.storbinary('STOR py-guest.bin', io.BytesIO(blob))[:3]
R['retr'] = get(f, 'py-guest.bin') == blob
R['overwrite'] = code(f.storbinary, 'STOR py-guest.bin', io.BytesIO(b'x'))
R['resume'] = code(f.storbinary, 'STOR py-guest.bin', io.BytesIO(b'x'), rest=3)
R['append'] = code(f.storbinary, 'APPE py-guest.bin', io.BytesIO(b'x'))
R['delete'] = code(f.delete, 'py-guest.bin')
R['rename'] = code(f.rename, 'py-guest.bin', 'other.bin')
R['mkd'] = code(f.mkd, 'newdir')
R['chmod'] = code(f.sendcmd, 'SITE CHMOD 600 py-guest.bin')
R['mlsd_perm'] = dict(f.mlsd())['py-guest.bin']['perm']
f.quit()
R['expired'] = code(plain().login, 'old', '${PASSWORDS.old}')
R['wrong'] = code(plain().login, 'alice', 'not-the-password')
R['unknown'] = code(plain().login, 'nobody', 'x')
`,
      fx.port,
    );
    expect(r).toEqual({
      login: '230',
      stor: '226',
      retr: true,
      overwrite: '553',
      resume: '553',
      append: '550',
      delete: '550',
      rename: '550',
      mkd: '550',
      chmod: '550',
      mlsd_perm: 'r',
      expired: '530',
      wrong: '530',
      unknown: '530',
    });
  });

  it('anonymous: read-only pub/, write-only incoming/, refusals 532 / 550 / 553', async () => {
    const r = await python(
      `
f = plain()
R['login'] = f.login()[:3]
R['root'] = f.nlst()
R['mlsd_root'] = sorted((n, x['type'], x['perm']) for n, x in f.mlsd())
R['pub'] = sorted(f.nlst('/pub'))
R['readme'] = get(f, '/pub/readme.txt').decode()
R['pub_stor'] = code(f.storbinary, 'STOR /pub/new.txt', io.BytesIO(b'x'))
R['pub_appe'] = code(f.storbinary, 'APPE /pub/readme.txt', io.BytesIO(b'x'))
R['pub_dele'] = code(f.delete, '/pub/readme.txt')
R['pub_mkd'] = code(f.mkd, '/pub/dir')
R['pub_rename'] = code(f.rename, '/pub/readme.txt', '/pub/x.txt')
R['root_stor'] = code(f.storbinary, 'STOR /top.txt', io.BytesIO(b'x'))
f.cwd('/incoming')
R['drop'] = f.storbinary('STOR py-drop.bin', io.BytesIO(blob))[:3]
R['drop_again'] = code(f.storbinary, 'STOR py-drop.bin', io.BytesIO(b'x'))
R['drop_list'] = code(f.nlst)
R['drop_mlsd'] = code(lambda: list(f.mlsd()))
R['drop_retr'] = code(get, f, 'py-drop.bin')
R['drop_size'] = code(f.size, 'py-drop.bin')
R['drop_dele'] = code(f.delete, 'py-drop.bin')
f.quit()
g = plain()
R['ftp_user'] = g.login('ftp', 'someone@example.org')[:3]
g.quit()
`,
      fx.port,
    );
    expect(r).toEqual({
      login: '230',
      root: ['incoming', 'pub'],
      mlsd_root: [
        ['incoming', 'dir', 'ce'],
        ['pub', 'dir', 'el'],
      ],
      pub: ['docs', 'readme.txt'],
      readme: 'line one\nline two\n',
      pub_stor: '532',
      pub_appe: '532',
      pub_dele: '550',
      pub_mkd: '550',
      pub_rename: '550',
      root_stor: '532',
      drop: '226',
      drop_again: '553',
      drop_list: '550',
      drop_mlsd: '550',
      drop_retr: '550',
      drop_size: '550',
      drop_dele: '550',
      ftp_user: '230',
    });
    expect((await readFile(path.join(fx.root, 'incoming/py-drop.bin'))).length).toBe(300000);
  });

  it('FTP_TLS with prot_p: store, retrieve, resume, mlsd, nlst', async () => {
    const r = await python(
      `
f = secure()
R['login'] = f.login('alice', '${PASSWORDS.alice}')[:3]
R['prot'] = f.prot_p()[:3]
R['cipher'] = f.sock.version()
R['stor'] = f.storbinary('STOR tls.bin', io.BytesIO(blob))[:3]
R['retr'] = get(f, 'tls.bin') == blob
R['tail'] = get(f, 'tls.bin', rest=1000) == blob[1000:]
f.storbinary('STOR tls-resume.bin', io.BytesIO(blob[:777]))
src = io.BytesIO(blob); src.seek(777)
f.storbinary('STOR tls-resume.bin', src, rest=777)
R['resumed'] = get(f, 'tls-resume.bin') == blob
R['empty'] = [f.storbinary('STOR empty-%d.bin' % i, io.BytesIO(b''))[:3] for i in range(4)]
R['empty_retr'] = get(f, 'empty-0.bin').decode()
R['nlst'] = 'tls.bin' in f.nlst()
R['mlsd'] = dict(f.mlsd())['tls.bin']['size']
R['clear'] = f.prot_c()[:3]
R['clear_retr'] = get(f, 'tls.bin') == blob
f.quit()
a = secure()
a.login()
a.prot_p()
R['anon_readme'] = get(a, '/pub/readme.txt').decode()
R['anon_stor'] = code(a.storbinary, 'STOR /pub/x', io.BytesIO(b'x'))
a.quit()
`,
      fx.port,
    );
    expect(r).toEqual({
      login: '230',
      prot: '200',
      cipher: expect.stringMatching(/^TLSv1\.[23]$/),
      stor: '226',
      retr: true,
      tail: true,
      resumed: true,
      empty: ['226', '226', '226', '226'],
      empty_retr: '',
      nlst: true,
      mlsd: '300000',
      clear: '200',
      clear_retr: true,
      anon_readme: 'line one\nline two\n',
      anon_stor: '532',
    });
  });

  it('FTP_TLS strict about close_notify: small listings and files under prot_p', async () => {
    const r = await python(
      `
f = strict()
f.login('alice', '${PASSWORDS.alice}')
f.prot_p()
f.mkd('strict')
f.cwd('strict')
R['stor'] = f.storbinary('STOR small.txt', io.BytesIO(b'small\\n'))[:3]
f.storbinary('STOR empty.txt', io.BytesIO(b''))
R['nlst'] = sorted(f.nlst())
R['mlsd'] = sorted((n, x['size']) for n, x in f.mlsd())
lines = []
f.dir(lines.append)
R['dir'] = len(lines)
R['retr'] = get(f, 'small.txt').decode()
R['empty'] = get(f, 'empty.txt').decode()
R['again'] = [sorted(f.nlst()) for i in range(5)][-1]
R['quit'] = f.quit()[:3]
`,
      fx.port,
    );
    expect(r).toEqual({
      stor: '226',
      nlst: ['empty.txt', 'small.txt'],
      mlsd: [
        ['empty.txt', '0'],
        ['small.txt', '6'],
      ],
      dir: 2,
      retr: 'small\n',
      empty: '',
      again: ['empty.txt', 'small.txt'],
      quit: '221',
    });
  });

  it('abort() during a large RETR (ABOR as TCP urgent data, its LF lost): 426, 226, then on', async () => {
    await writeFile(path.join(fx.root, 'home/alice/abort-me.bin'), Buffer.alloc(64 * 1024 * 1024));
    const r = await python(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
f.sock.settimeout(5)
f.voidcmd('TYPE I')
conn = f.transfercmd('RETR abort-me.bin')
R['data'] = len(conn.recv(1000)) > 0
R['abort'] = f.abort()[:3]
conn.close()
R['after'] = f.getresp()[:3]
R['noop'] = f.voidcmd('NOOP')[:3]
R['pwd'] = f.pwd()
f.quit()
`,
      fx.port,
    );
    expect(r).toEqual({ data: true, abort: '426', after: '226', noop: '200', pwd: '/' });
  });

  it('requireTls: clear-text login 530, PROT C 534, data without PROT P 534, PROT P works', async () => {
    const r = await python(
      `
R['plain_login'] = code(plain().login, 'alice', '${PASSWORDS.alice}')
f = secure()
R['login'] = f.login('alice', '${PASSWORDS.alice}')[:3]
R['no_prot'] = code(f.nlst)
R['prot_c_first'] = code(f.prot_c)
f.voidcmd('PBSZ 0')
R['prot_c'] = code(f.prot_c)
f.prot_p()
R['stor'] = f.storbinary('STOR secure-only.bin', io.BytesIO(blob))[:3]
R['retr'] = get(f, 'secure-only.bin') == blob
f.quit()
`,
      tlsOnly.port,
    );
    expect(r).toEqual({
      plain_login: '530',
      login: '230',
      no_prot: '534',
      prot_c_first: '503',
      prot_c: '534',
      stor: '226',
      retr: true,
    });
  });
});

describe('Python ftplib from a non-loopback address (the host interface): account passwords only over TLS', () => {
  // a client on another host is simulated by a connection to and from this host's own interface
  const external = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

  const script = `
import ftplib, json, ssl, sys
HOST, PORT, PW = sys.argv[1], int(sys.argv[2]), sys.argv[3]
R = {}
def code(fn, *a):
    try:
        return fn(*a)[:3]
    except ftplib.all_errors as e:
        return str(e)
f = ftplib.FTP(timeout=10); f.connect(HOST, PORT)
R['user'] = code(f.sendcmd, 'USER alice')
R['anonymous'] = code(f.login)
f.close()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ftplib.FTP_TLS(context=ctx, timeout=10); t.connect(HOST, PORT)
R['tls_login'] = code(t.login, 'alice', PW)
t.quit()
print(json.dumps(R))
`;

  it('USER of an account gets 530 until AUTH TLS, anonymous is unaffected; --allow-plaintext lifts it', async () => {
    expect(external, 'a non-loopback IPv4 interface is needed for this test').toBeDefined();
    const strict = await startFixture({ host: external! }, { base: fx.base });
    const open = await startFixture({ host: external!, allowPlaintext: true }, { base: fx.base });
    try {
      const py = async (port: number) => {
        const r = await run('/usr/bin/python3', ['-c', script, external!, String(port), PASSWORDS.alice]);
        expect(r.code, r.stderr).toBe(0);
        return JSON.parse(r.stdout.trim()) as Record<string, string>;
      };
      expect(await py(strict.port)).toEqual({
        user: '530 Non-anonymous logins need TLS from this address: send AUTH TLS first',
        anonymous: '230',
        tls_login: '230',
      });
      expect(await py(open.port)).toEqual({
        user: '331',
        anonymous: '230',
        tls_login: '230',
      });
    } finally {
      await strict.server.close(200);
      await open.server.close(200);
    }
  });
});
