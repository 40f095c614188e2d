/**
 * Symbolic links inside the root: DELE, RMD, RNFR and RNTO act on the link itself, never on its
 * target (POSIX unlink/rmdir/rename, as pyftpdlib does); links that lead outside stay refused.
 */
import { lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANARY, type Fixture, PASSWORDS, startFixture } from './fixture.js';
import { RawFtp } from './raw-client.js';

let fx: Fixture;
let renamingGuests: Fixture;
let home: string;

beforeAll(async () => {
  fx = await startFixture();
  // guests who may rename, but still not overwrite (the default no-overwrite rule)
  renamingGuests = await startFixture({ permissions: { guest: 'elrwf' } }, { base: fx.base });
  home = path.join(fx.root, 'home/alice');
  await mkdir(home, { recursive: true });
});
afterAll(async () => {
  await renamingGuests.server.close(200);
  await fx.cleanup();
});

const alice = async () => {
  const c = await RawFtp.connect(fx.port);
  await c.login('alice', PASSWORDS.alice);
  return c;
};

const isLink = async (p: string) => (await lstat(p)).isSymbolicLink();
const exists = (p: string) =>
  lstat(p).then(
    () => true,
    () => false,
  );

describe('symbolic links inside the root', () => {
  it('DELE removes the link and keeps its target', async () => {
    await writeFile(path.join(home, 'victim.txt'), 'v\n');
    await symlink('victim.txt', path.join(home, 'vlink'));
    const c = await alice();
    expect((await c.cmd('DELE vlink')).code).toBe(250);
    expect(await exists(path.join(home, 'vlink'))).toBe(false);
    expect(await readFile(path.join(home, 'victim.txt'), 'utf8')).toBe('v\n');
    c.close();
  });

  it('RNFR/RNTO renames the link itself', async () => {
    await writeFile(path.join(home, 'victim2.txt'), 'w\n');
    await symlink('victim2.txt', path.join(home, 'vlink2'));
    const c = await alice();
    expect((await c.cmd('RNFR vlink2')).code).toBe(350);
    expect((await c.cmd('RNTO renamed')).code).toBe(250);
    expect(await isLink(path.join(home, 'renamed'))).toBe(true);
    expect(await readlink(path.join(home, 'renamed'))).toBe('victim2.txt');
    expect(await exists(path.join(home, 'vlink2'))).toBe(false);
    expect(await readFile(path.join(home, 'victim2.txt'), 'utf8')).toBe('w\n');
    c.close();
  });

  it('RMD on a link to a directory is 550 and removes nothing', async () => {
    await mkdir(path.join(home, 'vdir'));
    await symlink('vdir', path.join(home, 'vdirlink'));
    const c = await alice();
    const r = await c.cmd('RMD vdirlink');
    expect(r.lines).toEqual(['550 Not a directory']);
    expect((await stat(path.join(home, 'vdir'))).isDirectory()).toBe(true);
    expect(await isLink(path.join(home, 'vdirlink'))).toBe(true);
    c.close();
  });

  it('RNTO onto a link replaces the link and never writes through it', async () => {
    await writeFile(path.join(home, 'victim3.txt'), 'keep\n');
    await symlink('victim3.txt', path.join(home, 'tlink'));
    await writeFile(path.join(home, 'src.txt'), 'new\n');
    const c = await alice();
    expect((await c.cmd('RNFR src.txt')).code).toBe(350);
    expect((await c.cmd('RNTO tlink')).code).toBe(250);
    expect(await isLink(path.join(home, 'tlink'))).toBe(false);
    expect(await readFile(path.join(home, 'tlink'), 'utf8')).toBe('new\n');
    expect(await readFile(path.join(home, 'victim3.txt'), 'utf8')).toBe('keep\n');
    c.close();
  });

  it('a link reached through a linked directory is still the entry acted on', async () => {
    await mkdir(path.join(home, 'real-dir'));
    await symlink('real-dir', path.join(home, 'dir-link'));
    await writeFile(path.join(home, 'real-dir/target.txt'), 't\n');
    await symlink('target.txt', path.join(home, 'real-dir/inner-link'));
    const c = await alice();
    expect((await c.cmd('DELE dir-link/inner-link')).code).toBe(250);
    expect(await exists(path.join(home, 'real-dir/inner-link'))).toBe(false);
    expect(await readFile(path.join(home, 'real-dir/target.txt'), 'utf8')).toBe('t\n');
    c.close();
  });

  it('still refuses links that lead outside, as source or as target', async () => {
    await writeFile(path.join(home, 'movable.txt'), 'm\n');
    const c = await alice();
    for (const cmd of ['DELE canary-link', 'RMD canary-link', 'RNFR canary-link', 'DELE up-link']) {
      expect((await c.cmd(cmd)).code, cmd).toBe(550);
    }
    expect((await c.cmd('RNFR movable.txt')).code).toBe(350);
    const onto = await c.cmd('RNTO canary-link');
    expect(onto.code).toBe(550);
    expect(onto.text).toMatch(/NETKIT_PATH_OUTSIDE_ROOT/);
    expect(await isLink(path.join(home, 'canary-link'))).toBe(true);
    expect(await readFile(fx.canary, 'utf8')).toBe(CANARY);
    c.close();
  });

  it('without the right to overwrite, RNTO onto a link is 553 and the link stays', async () => {
    const guest = path.join(fx.root, 'guest');
    await mkdir(guest, { recursive: true });
    await writeFile(path.join(guest, 'kept.txt'), 'kept\n');
    await symlink('kept.txt', path.join(guest, 'kept-link'));
    await writeFile(path.join(guest, 'mine.txt'), 'mine\n');
    const g = await RawFtp.connect(renamingGuests.port);
    await g.login('gus', PASSWORDS.gus);
    expect((await g.cmd('RNFR mine.txt')).code).toBe(350);
    const r = await g.cmd('RNTO kept-link');
    expect(r.code).toBe(553);
    expect(r.text).toMatch(/\/kept-link already exists/);
    expect(await isLink(path.join(guest, 'kept-link'))).toBe(true);
    expect(await readFile(path.join(guest, 'kept.txt'), 'utf8')).toBe('kept\n');
    expect((await g.cmd('RNFR mine.txt')).code).toBe(350);
    expect((await g.cmd('RNTO moved.txt')).code).toBe(250);
    g.close();
  });
});
