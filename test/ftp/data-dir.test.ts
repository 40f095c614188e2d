/**
 * The server's data directory (accounts file with password hashes, TLS key) lying inside an area a
 * session can reach: every command that names it, a path through it or a symbolic link into it is
 * answered exactly as a missing file is (550 "No such file or directory"), listings of every kind
 * leave it out, and nothing in it is read, changed, moved or added. The same for `--cert`/`--key`
 * files inside an area. A directory that holds a hidden path, and so lists without it, is refused
 * as such (550 "cannot remove this directory (permission denied)"), never "not empty". Driven with
 * Python's ftplib (an independent client) and a raw client for the commands ftplib has no call for.
 */
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import { createFtpServer, type FtpServerHandle, type FtpServerOptions } from '../../src/ftp/server.js';
import { tempDir } from '../helpers/net.js';
import { makeAccounts, PASSWORDS } from './fixture.js';
import { python } from './ftplib.js';
import { RawFtp } from './raw-client.js';

const MISSING = '550 No such file or directory';

/**
 * `python()` with two helpers: `reply(fn, *args)` is `'ok'` or the server's whole error reply,
 * `lines(cmd)` the lines of a listing command on the session `f`.
 */
function py(script: string, port: number): Promise<Record<string, unknown>> {
  return python(
    `
def reply(fn, *a):
    try:
        fn(*a)
        return 'ok'
    except ftplib.all_errors as e:
        return str(e)
def lines(cmd):
    out = []
    f.retrlines(cmd, out.append)
    return out
${script}`,
    port,
  );
}

interface Layout {
  server: FtpServerHandle;
  data: string;
  root: string;
  /** every file under the data directory with its size, mode and content hash stand-in */
  snapshot(): Promise<string[]>;
}

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Every file under `top` with its mode, size and content. */
async function snapshotOf(top: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      const st = await stat(full);
      const body = e.isFile() ? (await readFile(full)).toString('base64') : '';
      out.push(`${path.relative(top, full)} ${st.mode.toString(8)} ${st.size} ${body}`);
      if (e.isDirectory()) await walk(full);
    }
  };
  await walk(top);
  return out.sort();
}

/** A server over `root` with its data directory at `data` (the accounts file made there first). */
async function serve(
  root: string,
  data: string,
  prepare?: () => Promise<void>,
  options: Partial<FtpServerOptions> = {},
): Promise<Layout> {
  await mkdir(data, { recursive: true });
  await makeAccounts(data);
  await prepare?.();
  // TLS on (the default): the development key appears in DATA/tls
  const server = await createFtpServer({ root, dataDir: data, port: 0, loginFailureDelayMs: 20, ...options });
  cleanups.push(() => server.close(200));
  return { server, data, root, snapshot: () => snapshotOf(data) };
}

async function base(): Promise<string> {
  const t = await tempDir('netkit-ftp-data-');
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('the data directory inside a real account', () => {
  let l: Layout;
  let before: string[];
  beforeAll(async () => {
    const dir = await base();
    const root = path.join(dir, 'ftp');
    const home = path.join(root, 'home/alice');
    const data = path.join(home, 'sub/data');
    l = await serve(root, data, async () => {
      await writeFile(path.join(home, 'sub/other.txt'), 'other\n');
      await writeFile(path.join(home, 'plain.txt'), 'plain\n');
      await symlink('sub/data', path.join(home, 'shortcut'));
      await symlink('sub/data/accounts.json', path.join(home, 'accounts-link'));
    });
    before = await l.snapshot();
    expect(before.some((e) => e.startsWith('accounts.json '))).toBe(true);
    expect(before.some((e) => e.startsWith(`${path.join('tls', 'dev-key.pem')} `))).toBe(true);
  });

  it('answers every command on it, through it or through a link into it like a missing file', async () => {
    const r = await py(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
f.voidcmd('TYPE I')
R['missing'] = reply(get, f, 'no-such-file')
R['refused'] = {}
for name, fn, args in [
    ('RETR file', get, (f, 'sub/data/accounts.json')),
    ('RETR absolute', get, (f, '/sub/data/accounts.json')),
    ('RETR dot-dot', get, (f, 'sub/../sub/data/./accounts.json')),
    ('RETR key', get, (f, 'sub/data/tls/dev-key.pem')),
    ('RETR via dir link', get, (f, 'shortcut/accounts.json')),
    ('RETR via file link', get, (f, 'accounts-link')),
    ('RETR dir', get, (f, 'sub/data')),
    ('SIZE', f.size, ('sub/data/accounts.json',)),
    ('SIZE link', f.size, ('accounts-link',)),
    ('MDTM', f.sendcmd, ('MDTM sub/data/accounts.json',)),
    ('MLST dir', f.sendcmd, ('MLST sub/data',)),
    ('MLST file', f.sendcmd, ('MLST shortcut/accounts.json',)),
    ('CWD', f.cwd, ('sub/data',)),
    ('CWD tls', f.cwd, ('sub/data/tls',)),
    ('CWD link', f.cwd, ('shortcut',)),
    ('LIST', lines, ('LIST sub/data',)),
    ('LIST link', lines, ('LIST shortcut',)),
    ('NLST', lines, ('NLST sub/data',)),
    ('MLSD', lines, ('MLSD sub/data',)),
    ('STAT', f.sendcmd, ('STAT sub/data',)),
    ('STOR inside', f.storbinary, ('STOR sub/data/new.txt', io.BytesIO(b'x'))),
    ('STOR over file', f.storbinary, ('STOR sub/data/accounts.json', io.BytesIO(b'{}'))),
    ('STOR over dir name', f.storbinary, ('STOR sub/data', io.BytesIO(b'x'))),
    ('STOR via link', f.storbinary, ('STOR accounts-link', io.BytesIO(b'{}'))),
    ('APPE', f.storbinary, ('APPE sub/data/accounts.json', io.BytesIO(b'x'))),
    ('DELE', f.delete, ('sub/data/accounts.json',)),
    ('DELE link', f.delete, ('accounts-link',)),
    ('DELE dir', f.delete, ('sub/data',)),
    ('RMD', f.rmd, ('sub/data',)),
    ('RMD tls', f.rmd, ('sub/data/tls',)),
    ('MKD existing', f.mkd, ('sub/data',)),
    ('MKD inside', f.mkd, ('sub/data/new',)),
    ('RNFR dir', f.sendcmd, ('RNFR sub/data',)),
    ('RNFR file', f.sendcmd, ('RNFR sub/data/accounts.json',)),
    ('RNFR via link', f.sendcmd, ('RNFR shortcut/accounts.json',)),
    ('MFMT', f.sendcmd, ('MFMT 20000101000000 sub/data/accounts.json',)),
    ('SITE CHMOD', f.sendcmd, ('SITE CHMOD 644 sub/data/accounts.json',)),
    ('SITE CHMOD dir', f.sendcmd, ('SITE CHMOD 777 sub/data',)),
]:
    R['refused'][name] = reply(fn, *args)
f.sendcmd('RNFR plain.txt')
R['RNTO onto'] = reply(f.sendcmd, 'RNTO sub/data')
f.sendcmd('RNFR plain.txt')
R['RNTO into'] = reply(f.sendcmd, 'RNTO sub/data/plain.txt')
f.sendcmd('RNFR plain.txt')
R['RNTO via link'] = reply(f.sendcmd, 'RNTO shortcut/plain.txt')
# the directory that holds it: neither moved (the data would leave the jail's sight) nor locked
R['RNFR parent'] = reply(f.sendcmd, 'RNFR sub')
R['CHMOD parent'] = reply(f.sendcmd, 'SITE CHMOD 000 sub')
R['CHMOD root'] = reply(f.sendcmd, 'SITE CHMOD 000 /')
# what is around it still works
R['other'] = get(f, 'sub/other.txt').decode()
R['size_other'] = f.size('sub/other.txt')
R['rename_other'] = reply(f.rename, 'sub/other.txt', 'sub/moved.txt')
R['cwd_sub'] = reply(f.cwd, '/sub')
f.cwd('/')
f.quit()
`,
      l.server.port,
    );
    expect(r.missing).toBe(MISSING);
    const refused = r.refused as Record<string, string>;
    for (const [name, reply] of Object.entries(refused))
      expect(`${name}: ${reply}`).toBe(`${name}: ${MISSING}`);
    expect(Object.keys(refused)).toHaveLength(38);
    expect(r['RNTO onto']).toBe(MISSING);
    expect(r['RNTO into']).toBe(MISSING);
    expect(r['RNTO via link']).toBe(MISSING);
    expect(r['RNFR parent']).toMatch(/^550 /);
    expect(r['CHMOD parent']).toMatch(/^550 /);
    expect(r['CHMOD root']).toMatch(/^550 /);
    expect(r.other).toBe('other\n');
    expect(r.size_other).toBe(6);
    expect(r.rename_other).toBe('ok');
    expect(r.cwd_sub).toBe('ok');
    expect(await l.snapshot()).toEqual(before);
    expect((await stat(path.join(l.root, 'home/alice/sub'))).mode & 0o777).not.toBe(0);
  });

  it('leaves it out of LIST, NLST, MLSD, STAT and wildcard listings, and links into it too', async () => {
    const r = await py(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
R['list_sub'] = lines('LIST sub')
R['list_sub_a'] = lines('LIST -la sub')
R['nlst_sub'] = f.nlst('sub')
R['glob'] = f.nlst('sub/*')
R['mlsd_sub'] = sorted(n for n, x in f.mlsd('sub'))
R['stat_sub'] = f.sendcmd('STAT sub').split('\\n')
R['list_root'] = lines('LIST')
R['nlst_root'] = f.nlst()
R['mlsd_root'] = sorted(n for n, x in f.mlsd('/'))
R['stat_root'] = f.sendcmd('STAT /').split('\\n')
f.quit()
`,
      l.server.port,
    );
    const shown = JSON.stringify(r);
    expect(shown).toMatch(/moved\.txt|other\.txt/);
    expect(shown).toContain('plain.txt');
    expect(shown).not.toMatch(/\bdata\b/);
    expect(shown).not.toContain('shortcut');
    expect(shown).not.toContain('accounts');
    expect(r.mlsd_root).toEqual(expect.arrayContaining(['sub']));
  });

  it('STOU, a glob naming it and a listing of a path through it are refused or empty the same way', async () => {
    const c = await RawFtp.connect(l.server.port);
    try {
      await c.login('alice', PASSWORDS.alice);
      await c.cmd('TYPE I');
      const missing = await c.retrieve('NLST no-such-dir/*');
      const glob = await c.retrieve('NLST sub/data/*');
      expect(`${glob.first.code} ${glob.first.text}`).toBe(`${missing.first.code} ${missing.first.text}`);
      expect(`${glob.first.code} ${glob.first.text}`).toBe(MISSING);
      const stou = await c.store('STOU sub/data/x', 'x');
      expect(`${stou.first.code} ${stou.first.text}`).toBe(MISSING);
      const mlst = await c.cmd('MLST sub/../sub/data/tls/dev-key.pem');
      expect(`${mlst.code} ${mlst.text}`).toBe(MISSING);
    } finally {
      c.close();
    }
    expect(await l.snapshot()).toEqual(before);
  });
});

describe('the data directory inside pub/', () => {
  let l: Layout;
  beforeAll(async () => {
    const dir = await base();
    const root = path.join(dir, 'ftp');
    l = await serve(root, path.join(root, 'pub/data'), async () => {
      await writeFile(path.join(root, 'pub/readme.txt'), 'readme\n');
    });
  });

  it('anonymous users neither list nor reach it', async () => {
    const r = await py(
      `
f = plain()
f.login()
R['listings'] = [lines('LIST /pub'), f.nlst('/pub'), sorted(n for n, x in f.mlsd('/pub')), f.sendcmd('STAT /pub'), f.nlst('/pub/*')]
R['readme'] = get(f, '/pub/readme.txt').decode()
R['refused'] = [
    reply(get, f, '/pub/data/accounts.json'),
    reply(get, f, '/pub/data/tls/dev-key.pem'),
    reply(f.cwd, '/pub/data'),
    reply(f.size, '/pub/data/accounts.json'),
    reply(f.sendcmd, 'MDTM /pub/data/accounts.json'),
    reply(f.sendcmd, 'MLST /pub/data'),
    reply(lines, 'LIST /pub/data'),
]
f.quit()
`,
      l.server.port,
    );
    expect(JSON.stringify(r.listings)).toContain('readme.txt');
    expect(JSON.stringify(r.listings)).not.toMatch(/\bdata\b/);
    expect(r.readme).toBe('readme\n');
    expect(r.refused).toEqual(Array(7).fill(MISSING));
  });
});

describe('pub/ that resolves to the data directory', () => {
  let l: Layout;
  beforeAll(async () => {
    // `ftp serve --root .` with the data directory at ./netkit-data and pub a link to it
    const dir = await base();
    l = await serve(dir, path.join(dir, 'netkit-data'), async () => {
      await symlink('netkit-data', path.join(dir, 'pub'));
      await mkdir(path.join(dir, 'home/alice'), { recursive: true });
      await writeFile(path.join(dir, 'home/alice/mine.txt'), 'mine\n');
    });
  });

  it('serves nothing of it, and real accounts are unaffected', async () => {
    const r = await py(
      `
f = plain()
f.login()
R['anon'] = [
    reply(f.retrlines, 'LIST /pub'),
    reply(f.nlst, '/pub'),
    reply(f.cwd, '/pub'),
    reply(get, f, '/pub/accounts.json'),
    reply(f.size, '/pub/accounts.json'),
    reply(f.sendcmd, 'STAT /pub'),
]
f.quit()
f = plain()
f.login('alice', '${PASSWORDS.alice}')
R['alice'] = get(f, 'mine.txt').decode()
R['alice_nlst'] = f.nlst()
f.quit()
`,
      l.server.port,
    );
    expect(r.anon).toEqual(Array(6).fill(MISSING));
    expect(r.alice).toBe('mine\n');
    expect(r.alice_nlst).toEqual(['mine.txt']);
  });
});

describe('the default layout: the FTP tree inside the data directory', () => {
  it('is served as usual (only what lies inside the data directory but outside the tree is hidden)', async () => {
    const dir = await base();
    const data = path.join(dir, 'netkit-data');
    const l = await serve(path.join(data, 'ftp'), data, async () => {
      await mkdir(path.join(data, 'ftp/home/alice/docs'), { recursive: true });
      await writeFile(path.join(data, 'ftp/home/alice/docs/a.txt'), 'a\n');
    });
    const r = await py(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
R['nlst'] = f.nlst('docs')
R['a'] = get(f, 'docs/a.txt').decode()
R['stor'] = f.storbinary('STOR docs/b.txt', io.BytesIO(b'b'))[:3]
R['home'] = f.nlst('/')
f.quit()
`,
      l.server.port,
    );
    expect(r).toEqual({ nlst: ['a.txt'], a: 'a\n', stor: '226', home: ['docs'] });
  });

  it('never serves tls/ or the accounts file, even as the root of an area (pub a link to DATA/tls)', async () => {
    const dir = await base();
    const data = path.join(dir, 'netkit-data');
    const l = await serve(path.join(data, 'ftp'), data, async () => {
      // the server makes its development key in tls/ as it starts
      await mkdir(path.join(data, 'tls'), { recursive: true });
      await mkdir(path.join(data, 'ftp'), { recursive: true });
      await symlink('../tls', path.join(data, 'ftp/pub'));
    });
    const r = await py(
      `
f = plain()
f.login()
R['anon'] = [
    reply(get, f, '/pub/dev-key.pem'),
    reply(f.size, '/pub/dev-key.pem'),
    reply(f.nlst, '/pub'),
    reply(f.cwd, '/pub'),
]
f.quit()
`,
      l.server.port,
    );
    expect(r.anon).toEqual(Array(4).fill(MISSING));
    expect((await l.snapshot()).some((e) => e.startsWith(`${path.join('tls', 'dev-key.pem')} `))).toBe(true);
  });
});

describe('--cert/--key files inside a real account', () => {
  let l: Layout;
  let home: string;
  let before: string[];
  beforeAll(async () => {
    const dir = await base();
    const root = path.join(dir, 'ftp');
    home = path.join(root, 'home/alice');
    const cert = path.join(home, 'server-cert.pem');
    const key = path.join(home, 'certs/server-key.pem');
    l = await serve(
      root,
      path.join(dir, 'data'),
      async () => {
        const pair = await generateDevCertificate();
        await mkdir(path.join(home, 'certs'), { recursive: true });
        await writeFile(cert, pair.cert);
        await writeFile(key, pair.key, { mode: 0o600 });
        await writeFile(path.join(home, 'plain.txt'), 'plain\n');
        await symlink('certs/server-key.pem', path.join(home, 'key-link'));
      },
      // as `ftp serve --cert ~alice/server-cert.pem --key ~alice/certs/server-key.pem` passes them
      { tls: { cert, key } },
    );
    before = await snapshotOf(home);
    expect(before.some((e) => e.startsWith(`${path.join('certs', 'server-key.pem')} `))).toBe(true);
  });

  it('answers every command on the key, the certificate or a link to the key like a missing file', async () => {
    const r = await py(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
f.voidcmd('TYPE I')
R['refused'] = {}
for name, fn, args in [
    ('RETR key', get, (f, 'certs/server-key.pem')),
    ('RETR key absolute', get, (f, '/certs/../certs/server-key.pem')),
    ('RETR cert', get, (f, 'server-cert.pem')),
    ('RETR via link', get, (f, 'key-link')),
    ('SIZE key', f.size, ('certs/server-key.pem',)),
    ('SIZE link', f.size, ('key-link',)),
    ('MDTM cert', f.sendcmd, ('MDTM server-cert.pem',)),
    ('MLST key', f.sendcmd, ('MLST certs/server-key.pem',)),
    ('STAT key', f.sendcmd, ('STAT certs/server-key.pem',)),
    ('LIST key', lines, ('LIST certs/server-key.pem',)),
    ('CWD key', f.cwd, ('certs/server-key.pem',)),
    ('STOR over key', f.storbinary, ('STOR certs/server-key.pem', io.BytesIO(b'x'))),
    ('STOR over cert', f.storbinary, ('STOR server-cert.pem', io.BytesIO(b'x'))),
    ('STOR via link', f.storbinary, ('STOR key-link', io.BytesIO(b'x'))),
    ('APPE key', f.storbinary, ('APPE certs/server-key.pem', io.BytesIO(b'x'))),
    ('DELE key', f.delete, ('certs/server-key.pem',)),
    ('DELE cert', f.delete, ('server-cert.pem',)),
    ('DELE link', f.delete, ('key-link',)),
    ('MKD key', f.mkd, ('certs/server-key.pem',)),
    ('RNFR key', f.sendcmd, ('RNFR certs/server-key.pem',)),
    ('RNFR cert', f.sendcmd, ('RNFR server-cert.pem',)),
    ('MFMT key', f.sendcmd, ('MFMT 20000101000000 certs/server-key.pem',)),
    ('SITE CHMOD key', f.sendcmd, ('SITE CHMOD 644 certs/server-key.pem',)),
    ('SITE CHMOD cert', f.sendcmd, ('SITE CHMOD 000 server-cert.pem',)),
]:
    R['refused'][name] = reply(fn, *args)
f.sendcmd('RNFR plain.txt')
R['RNTO onto key'] = reply(f.sendcmd, 'RNTO certs/server-key.pem')
f.sendcmd('RNFR plain.txt')
R['RNTO onto cert'] = reply(f.sendcmd, 'RNTO server-cert.pem')
R['listings'] = [lines('LIST'), lines('LIST -la certs'), f.nlst(), f.nlst('certs'),
    sorted(n for n, x in f.mlsd('/')), sorted(n for n, x in f.mlsd('certs')), f.sendcmd('STAT certs')]
# a wildcard that only the certificate would match matches nothing
R['glob'] = reply(f.nlst, '*.pem')
R['plain'] = get(f, 'plain.txt').decode()
f.quit()
# the server does use the pair: AUTH TLS with it works
f = secure()
f.login('alice', '${PASSWORDS.alice}')
f.prot_p()
R['tls_plain'] = get(f, 'plain.txt').decode()
f.quit()
`,
      l.server.port,
    );
    const refused = r.refused as Record<string, string>;
    for (const [name, reply] of Object.entries(refused))
      expect(`${name}: ${reply}`).toBe(`${name}: ${MISSING}`);
    expect(Object.keys(refused)).toHaveLength(24);
    expect(r['RNTO onto key']).toBe(MISSING);
    expect(r['RNTO onto cert']).toBe(MISSING);
    expect(r.glob).toBe(MISSING);
    const shown = JSON.stringify(r.listings);
    expect(shown).toContain('plain.txt');
    expect(shown).toContain('certs');
    expect(shown).not.toMatch(/server-key|server-cert|key-link/);
    expect(r.plain).toBe('plain\n');
    expect(r.tls_plain).toBe('plain\n');
    expect(await snapshotOf(home)).toEqual(before);
  });

  it('refuses to remove, rename or chmod the directory that holds the key, saying so', async () => {
    const r = await py(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
R['nlst'] = f.nlst('certs')
R['rmd'] = reply(f.rmd, 'certs')
R['rnfr'] = reply(f.sendcmd, 'RNFR certs')
R['chmod'] = reply(f.sendcmd, 'SITE CHMOD 000 certs')
R['chmod_root'] = reply(f.sendcmd, 'SITE CHMOD 000 /')
f.quit()
`,
      l.server.port,
    );
    expect(r).toEqual({
      nlst: [],
      rmd: '550 /certs: cannot remove this directory (permission denied)',
      rnfr: '550 /certs: cannot rename this directory (permission denied)',
      chmod: '550 /certs: cannot change the permissions of this directory (permission denied)',
      chmod_root: '550 /: cannot change the permissions of this directory (permission denied)',
    });
    expect(await snapshotOf(home)).toEqual(before);
    expect((await stat(path.join(home, 'certs'))).mode & 0o777).not.toBe(0);
  });
});

describe('a directory that holds nothing but the data directory', () => {
  let l: Layout;
  let home: string;
  beforeAll(async () => {
    const dir = await base();
    const root = path.join(dir, 'ftp');
    home = path.join(root, 'home/alice');
    l = await serve(root, path.join(home, 'box/data'), async () => {
      await mkdir(path.join(home, 'empty'));
      await writeFile(path.join(home, 'plain.txt'), 'plain\n');
    });
  });

  it('lists as empty, and RMD, RNTO onto it and RNFR of it are permission refusals, not "not empty"', async () => {
    const before = await l.snapshot();
    const r = await py(
      `
f = plain()
f.login('alice', '${PASSWORDS.alice}')
R['nlst'] = f.nlst('box')
R['rmd'] = reply(f.rmd, 'box')
R['xrmd'] = reply(f.sendcmd, 'XRMD /box/')
R['rnfr'] = reply(f.sendcmd, 'RNFR box')
f.sendcmd('RNFR empty')
R['rnto_dir'] = reply(f.sendcmd, 'RNTO box')
f.sendcmd('RNFR plain.txt')
R['rnto_file'] = reply(f.sendcmd, 'RNTO box')
R['dele'] = reply(f.delete, 'box')
# a directory that is really empty goes as usual
R['rmd_empty'] = reply(f.rmd, 'empty')
f.quit()
`,
      l.server.port,
    );
    expect(r).toEqual({
      nlst: [],
      rmd: '550 /box: cannot remove this directory (permission denied)',
      xrmd: '550 /box: cannot remove this directory (permission denied)',
      rnfr: '550 /box: cannot rename this directory (permission denied)',
      rnto_dir: '550 /box: cannot replace this directory (permission denied)',
      rnto_file: '550 /box: cannot replace this directory (permission denied)',
      dele: '550 /box: is a directory (use RMD)',
      rmd_empty: 'ok',
    });
    expect(await l.snapshot()).toEqual(before);
    expect((await readdir(home)).sort()).toEqual(['box', 'plain.txt']);
  });
});
