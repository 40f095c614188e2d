import { mkdir, readdir, readFile, realpath, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensureDir,
  hiddenRealPaths,
  hiddenUnder,
  realPathOf,
  serverSecrets,
  within,
  withinAny,
  writeFileAtomic,
} from '../../src/core/datadir.js';
import { tempDir } from '../helpers/net.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir('netkit-datadir-');
});
afterAll(() => tmp.cleanup());

describe('ensureDir', () => {
  it('creates missing parents, and is a no-op for an existing directory', async () => {
    const deep = path.join(tmp.dir, 'a', 'b', 'c');
    await ensureDir(deep, 0o700);
    expect((await stat(deep)).isDirectory()).toBe(true);
    expect((await stat(deep)).mode & 0o777).toBe(0o700);
    await expect(ensureDir(deep)).resolves.toBe(deep);
    await Promise.all([1, 2, 3].map(() => ensureDir(path.join(tmp.dir, 'race', 'x'))));
  });

  it('fails (does not spin) where the file system refuses, and when a file is in the way', async () => {
    await expect(ensureDir('/proc/netkit-no-such/dir')).rejects.toMatchObject({ code: 'ENOENT' });
    const file = path.join(tmp.dir, 'file');
    await writeFile(file, 'x');
    await expect(ensureDir(file)).rejects.toMatchObject({ code: 'EEXIST' });
    await mkdir(path.join(tmp.dir, 'plain'));
    await expect(ensureDir(path.join(tmp.dir, 'plain'))).resolves.toBeDefined();
  });
});

describe('writeFileAtomic', () => {
  it('replaces the file, and leaves no temp file behind when it fails', async () => {
    const dir = path.join(tmp.dir, 'atomic');
    await mkdir(dir);
    await writeFileAtomic(path.join(dir, 'state.json'), 'one');
    await writeFileAtomic(path.join(dir, 'state.json'), 'two');
    expect(await readFile(path.join(dir, 'state.json'), 'utf8')).toBe('two');
    // the rename fails (a non-empty directory is in the way), as a write fails on a full disk
    await mkdir(path.join(dir, 'busy', 'x'), { recursive: true });
    await expect(writeFileAtomic(path.join(dir, 'busy'), 'three')).rejects.toBeDefined();
    expect((await readdir(dir)).sort()).toEqual(['busy', 'state.json']);
  });
});

describe('hidden paths: realPathOf, hiddenRealPaths, withinAny', () => {
  it('gives the real path a file or directory has, or will have once made under a linked parent', async () => {
    const real = await realpath(tmp.dir);
    await mkdir(path.join(tmp.dir, 'target'));
    await writeFile(path.join(tmp.dir, 'target', 'key.pem'), 'k');
    await symlink('target', path.join(tmp.dir, 'alias'));
    expect(await realPathOf(path.join(tmp.dir, 'alias', 'key.pem'))).toBe(
      path.join(real, 'target', 'key.pem'),
    );
    // not there yet (the data directory before the first `netkit user add`): through the link all the same
    expect(await realPathOf(path.join(tmp.dir, 'alias', 'later', 'data'))).toBe(
      path.join(real, 'target', 'later', 'data'),
    );
    expect(await realPathOf(path.relative(process.cwd(), path.join(tmp.dir, 'alias')))).toBe(
      path.join(real, 'target'),
    );
    // undefined skipped, the same real path once
    expect(
      await hiddenRealPaths([path.join(tmp.dir, 'alias'), undefined, path.join(tmp.dir, 'target'), '']),
    ).toEqual([path.join(real, 'target')]);
  });

  it('withinAny(dirs)(p) is dirs.some((d) => within(d, p))', () => {
    const dirs = ['/srv/data', '/srv/certs/key.pem', '/'];
    const paths = [
      '/srv/data',
      '/srv/data/accounts.json',
      '/srv/database',
      '/srv/dat',
      '/srv/certs/key.pem',
      '/srv/certs/key.pem.bak',
      '/srv/certs/key.pem/x',
      '/srv',
      '/',
      '/anything',
    ];
    for (const set of [[], dirs.slice(0, 1), dirs.slice(0, 2), dirs]) {
      const test = withinAny(set);
      for (const p of paths) expect([set, p, test(p)]).toEqual([set, p, set.some((d) => within(d, p))]);
    }
    expect(withinAny(dirs.slice(0, 2))('/srv/database')).toBe(false);
    expect(withinAny(dirs.slice(0, 2))('/srv/certs/key.pem')).toBe(true);
  });
});

describe('hiddenUnder: the one rule of ftp serve and http serve', () => {
  const secrets = ['/srv/data/accounts.json', '/srv/data/tls', '/srv/certs/key.pem'];
  const all = ['/srv/data', ...secrets];
  // [served root, directory the server was asked to serve, hidden paths that count under the root]
  const cases: Array<[string, string, string[]]> = [
    // http serve DIR: the root is what it was asked to serve
    ['/srv/site', '/srv/site', []],
    ['/srv/database', '/srv/database', []],
    ['/srv', '/srv', all],
    ['/', '/', all],
    ['/srv/certs', '/srv/certs', ['/srv/certs/key.pem']],
    ['/srv/data', '/srv/data', ['/srv/data/accounts.json', '/srv/data/tls']],
    ['/srv/data/mail', '/srv/data/mail', []],
    ['/srv/data/tls', '/srv/data/tls', ['/srv/data/tls']],
    ['/srv/data/tls/sub', '/srv/data/tls/sub', ['/srv/data/tls/sub']],
    // ftp serve --root DIR: an area is a folder of it, or wherever its link leads
    ['/srv/data/ftp/pub', '/srv/data/ftp', []],
    ['/srv/data/ftp/pub', '/srv/data', []],
    ['/srv/data/tls/ftp/pub', '/srv/data/tls/ftp', ['/srv/data/tls/ftp/pub']],
    ['/srv/data/tls/sub', '/srv/data/ftp', ['/srv/data/tls/sub']],
    ['/srv/data/mail', '/srv/data/ftp', ['/srv/data/mail']],
    ['/srv/data', '/srv/ftp', ['/srv/data']],
    ['/srv/data/mail', '/srv/ftp', ['/srv/data/mail']],
    ['/srv/ftp/pub', '/srv/ftp', []],
  ];
  it.each(cases)('root %s, asked to serve %s → %j', (root, asked, expected) => {
    expect(hiddenUnder(root, { dataDir: '/srv/data', asked, secrets })).toEqual(expected);
  });

  it('a root that is or lies inside a secret hides everything in it, the root too', () => {
    const hides = withinAny(
      hiddenUnder('/srv/data/tls/sub', { dataDir: '/srv/data', asked: '/srv', secrets }),
    );
    for (const p of ['/srv/data/tls/sub', '/srv/data/tls/sub/pub', '/srv/data/tls/sub/home/alice/a.txt'])
      expect([p, hides(p)]).toEqual([p, true]);
  });

  it('serverSecrets resolves every path through symbolic links, the data directory before it exists too', async () => {
    const real = await realpath(tmp.dir);
    await mkdir(path.join(tmp.dir, 'srv'));
    await symlink('srv', path.join(tmp.dir, 'srv-link'));
    const link = path.join(tmp.dir, 'srv-link');
    const s = await serverSecrets(path.join(link, 'data'), path.join(link, 'data', 'ftp'), [
      undefined,
      path.join(link, 'key.pem'),
    ]);
    const srv = path.join(real, 'srv');
    expect(s).toEqual({
      dataDir: path.join(srv, 'data'),
      asked: path.join(srv, 'data', 'ftp'),
      secrets: [
        path.join(srv, 'data', 'accounts.json'),
        path.join(srv, 'data', 'tls'),
        path.join(srv, 'key.pem'),
      ],
    });
    expect(hiddenUnder(path.join(srv, 'data', 'tls', 'ftp'), s)).toEqual([
      path.join(srv, 'data', 'tls', 'ftp'),
    ]);
  });
});
