import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classPermissions, identityFor } from '../../src/ftp/accounts.js';
import { Permissions } from '../../src/ftp/permissions.js';
import { resolveVirtualPath, VirtualFs } from '../../src/ftp/vfs.js';
import { tempDir } from '../helpers/net.js';

describe('resolveVirtualPath', () => {
  const ok: Array<[string, string, string]> = [
    ['/', '', '/'],
    ['/a', '', '/a'],
    ['/', 'file.txt', '/file.txt'],
    ['/a/b', 'c', '/a/b/c'],
    ['/a/b', '..', '/a'],
    ['/a/b', '../..', '/'],
    ['/a', './x/./y/', '/a/x/y'],
    ['/a', '//x///y', '/x/y'],
    ['/a', '/abs/path', '/abs/path'],
    ['/a', '/x/../y', '/y'],
    ['/', '...', '/...'],
    ['/', '..foo', '/..foo'],
    ['/', 'foo..', '/foo..'],
    ['/', 'naïve ünïcödé 日本.txt', '/naïve ünïcödé 日本.txt'],
    ['/', ' leading space', '/ leading space'],
    ['/', '100%', '/100%'],
    // never percent-decoded: these are names, and cannot climb
    ['/', 'sale 100%ff.txt', '/sale 100%ff.txt'],
    ['/a', '%2e%2e/%2e%2e/etc/passwd', '/a/%2e%2e/%2e%2e/etc/passwd'],
    ['/', '..%2f..%2fetc', '/..%2f..%2fetc'],
    ['/', '%00', '/%00'],
    ['/', '~', '/~'],
  ];
  it.each(ok)('cwd %j + %j → %j', (cwd, arg, expected) => {
    expect(resolveVirtualPath(cwd, arg)).toBe(expected);
  });

  const escapes: Array<[string, string, RegExp]> = [
    ['/', '..', /climbs above/],
    ['/', '../', /climbs above/],
    ['/', '../etc/passwd', /climbs above/],
    ['/a', '../..', /climbs above/],
    ['/a/b', '../../../x', /climbs above/],
    ['/', '/..', /climbs above/],
    ['/', '/../../../../etc/passwd', /climbs above/],
    ['/', 'a/../../b', /climbs above/],
    ['/', './../x', /climbs above/],
    ['/', '..\\..\\etc\\passwd', /backslash/],
    ['/', '\\etc\\passwd', /backslash/],
    ['/', 'a\\..\\..\\b', /backslash/],
    ['/', 'file\u0000.txt', /NUL/],
    ['/', '../\u0000', /NUL/],
    ['/', 'a\r\nDELE x', /control/],
    ['/', 'tab\tname', /control/],
    ['/', 'bad\ufffdutf8', /UTF-8/],
    ['/', 'C:\\Windows', /backslash/],
    ['/', 'C:/Windows/win.ini', /drive letter/],
    ['/', 'c:', /drive letter/],
  ];
  it.each(escapes)('cwd %j + %j is refused (%s)', (cwd, arg, why) => {
    let caught: unknown;
    try {
      resolveVirtualPath(cwd, arg);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'NETKIT_PATH_OUTSIDE_ROOT' });
    expect((caught as Error).message).toMatch(why);
  });
});

describe('VirtualFs', () => {
  let base: string;
  let cleanup: () => Promise<void>;
  let vfs: VirtualFs;
  let anon: VirtualFs;
  const rw = new Permissions('elradfmw');

  beforeAll(async () => {
    const t = await tempDir('netkit-vfs-');
    base = t.dir;
    cleanup = t.cleanup;
    await mkdir(path.join(base, 'root/sub'), { recursive: true });
    await mkdir(path.join(base, 'pub'), { recursive: true });
    await mkdir(path.join(base, 'incoming'), { recursive: true });
    await writeFile(path.join(base, 'root/sub/inside.txt'), 'inside');
    await writeFile(path.join(base, 'canary.txt'), 'canary');
    await symlink('../canary.txt', path.join(base, 'root/to-canary'));
    await symlink(base, path.join(base, 'root/to-base'));
    await symlink('/etc', path.join(base, 'root/etc'));
    await symlink('sub/inside.txt', path.join(base, 'root/good-link'));
    await symlink('sub', path.join(base, 'root/good-dir-link'));
    await symlink(path.join(base, 'nowhere'), path.join(base, 'root/dangling'));
    vfs = new VirtualFs([{ path: '/', dir: path.join(base, 'root'), perms: rw }]);
    anon = new VirtualFs([
      { path: '/pub', dir: path.join(base, 'pub'), perms: new Permissions('elr') },
      {
        path: '/incoming',
        dir: path.join(base, 'incoming'),
        perms: new Permissions('ew'),
        noOverwrite: true,
      },
    ]);
  });
  afterAll(() => cleanup());

  it('maps virtual paths into the mount', async () => {
    const r = await vfs.realPath('/sub/inside.txt');
    expect(await readFile(r.real, 'utf8')).toBe('inside');
    expect((await vfs.realPath('/')).isRoot).toBe(true);
  });

  it('follows symbolic links that stay inside', async () => {
    expect(await readFile((await vfs.realPath('/good-link')).real, 'utf8')).toBe('inside');
    expect((await vfs.realPath('/good-dir-link/inside.txt')).real).toBe(
      path.join(await vfs.realRoot(vfs.mounts[0]!), 'sub/inside.txt'),
    );
  });

  it.each(['/to-canary', '/to-base/canary.txt', '/etc/passwd', '/etc', '/to-base'])(
    'refuses the symbolic link escape %s',
    async (p) => {
      await expect(vfs.realPath(p)).rejects.toMatchObject({ code: 'NETKIT_PATH_OUTSIDE_ROOT' });
    },
  );

  it.each(['/to-base/new.txt', '/etc/new-file', '/to-canary', '/dangling'])(
    'refuses to create through a link that leads outside: %s',
    async (p) => {
      await expect(vfs.realPath(p, 'create')).rejects.toMatchObject({ code: 'NETKIT_PATH_OUTSIDE_ROOT' });
    },
  );

  it('creates inside, including through a link that stays inside', async () => {
    expect((await vfs.realPath('/new.txt', 'create')).real).toMatch(/root\/new\.txt$/);
    expect((await vfs.realPath('/good-dir-link/new.txt', 'create')).real).toMatch(/root\/sub\/new\.txt$/);
  });

  it("'entry' mode resolves the parent but not the last name: the link itself", async () => {
    const root = await vfs.realRoot(vfs.mounts[0]!);
    expect((await vfs.realPath('/good-link', 'entry')).real).toBe(path.join(root, 'good-link'));
    expect((await vfs.realPath('/good-dir-link', 'entry')).real).toBe(path.join(root, 'good-dir-link'));
    expect((await vfs.realPath('/good-dir-link/inside.txt', 'entry')).real).toBe(
      path.join(root, 'sub/inside.txt'),
    );
    expect(await vfs.realPath('/not-yet', 'entry')).toMatchObject({
      real: path.join(root, 'not-yet'),
      isRoot: false,
    });
    expect(await vfs.realPath('/', 'entry')).toMatchObject({ real: root, isRoot: true });
  });

  it.each(['/to-canary', '/to-base', '/to-base/canary.txt', '/etc', '/etc/passwd', '/dangling'])(
    "'entry' mode still refuses %s, which leads outside",
    async (p) => {
      await expect(vfs.realPath(p, 'entry')).rejects.toMatchObject({ code: 'NETKIT_PATH_OUTSIDE_ROOT' });
    },
  );

  it('reports a missing path as ENOENT', async () => {
    await expect(vfs.realPath('/missing.txt')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('builds a synthetic root above mount points', async () => {
    expect(anon.locate('/')).toEqual({ kind: 'synthetic', children: ['incoming', 'pub'] });
    expect(anon.locate('/pub/x')).toMatchObject({ kind: 'mount', rel: 'x' });
    expect(anon.locate('/other')).toBeUndefined();
    expect(anon.locate('/pubx')).toBeUndefined();
    expect(anon.mountOf('/incoming/a')?.noOverwrite).toBe(true);
    expect(await anon.isDirectory('/')).toBe(true);
    await expect(anon.realPath('/')).rejects.toMatchObject({ code: 'NETKIT_INVALID_INPUT' });
    await expect(anon.realPath('/pub', 'create')).rejects.toMatchObject({ code: 'NETKIT_INVALID_INPUT' });
  });

  it('left the canary untouched', async () => {
    expect(await readFile(path.join(base, 'canary.txt'), 'utf8')).toBe('canary');
  });
});

describe('anonymous identities', () => {
  it('share one mount table per server, deepest first, each with its own VirtualFs', async () => {
    const { dir: root, cleanup } = await tempDir('vfs-anon-');
    const policy = { root, anonymousUpload: true };
    const perms = classPermissions(policy);
    const a = await identityFor('anonymous', 'anonymous', policy, perms);
    const b = await identityFor('anonymous', 'anonymous', policy, perms);
    expect(a.vfs).not.toBe(b.vfs);
    expect(a.vfs.mounts).toBe(b.vfs.mounts);
    expect(a.vfs.mounts.map((m) => m.path)).toEqual(['/incoming', '/pub']);
    expect(a.vfs.mountOf('/incoming/x')?.dir).toBe(path.join(root, 'incoming'));
    expect(a.vfs.mountOf('/pub/x')?.perms).toBe(perms.anonymous);
    // another policy with the same permissions object gets its own table
    const c = await identityFor('anonymous', 'anonymous', { root, anonymousUpload: false }, perms);
    expect(c.vfs.mounts.map((m) => m.path)).toEqual(['/pub']);
    await cleanup();
  });
});
