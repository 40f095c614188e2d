/**
 * The accounts store beyond the happy path: concurrent editors (processes and promises), names
 * that are Object.prototype members, a file that is a link or owned by a server's user,
 * hand-edited and corrupt files, malformed hashes.
 */
import { chown, lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore, hashPassword, verifyPassword } from '../../src/core/accounts.js';
import { netkit, tempDir } from '../helpers/net.js';

let root: string;
let cleanup: () => Promise<void>;
let n = 0;
/** A fresh data directory per test. */
const fresh = () => path.join(root, `d${++n}`);

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('netkit-accounts-'));
});
afterAll(async () => {
  await cleanup();
});

describe('AccountStore', () => {
  it('two processes running `netkit user add` at once both keep their account', async () => {
    const data = fresh();
    const names = ['p1', 'p2', 'p3', 'p4'];
    const runs = await Promise.all(
      names.map((name) => netkit(['user', 'add', name, '--data', data], { env: { NETKIT_PASSWORD: 'pw' } })),
    );
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const listed = await new AccountStore(data).list();
    expect(listed.map((a) => a.name)).toEqual(names);
    // no lock or temp file left behind
    expect((await readdir(data)).sort()).toEqual(['accounts.json']);
  });

  it('concurrent changes in one process are serialised too', async () => {
    const store = new AccountStore(fresh());
    await store.add('keep', 'x');
    await Promise.all([
      store.add('a1', 'x'),
      store.add('a2', 'x'),
      store.setPassword('keep', 'y'),
      store.add('a3', 'x'),
    ]);
    expect((await store.list()).map((a) => a.name)).toEqual(['a1', 'a2', 'a3', 'keep']);
    expect(await store.authenticate('keep', 'y')).toBeDefined();
  });

  it('names of Object.prototype members are ordinary names, not existing accounts', async () => {
    const store = new AccountStore(fresh());
    await store.add('bob', 'x');
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      expect(await store.get(name)).toBeUndefined();
      expect(await store.authenticate(name, 'x')).toBeUndefined();
    }
    await expect(store.remove('constructor')).rejects.toMatchObject({ code: 'NETKIT_NOT_FOUND' });
    expect((await store.add('constructor', 'pw')).name).toBe('constructor');
    expect(await store.authenticate('constructor', 'pw')).toBeDefined();
  });

  it('a malformed stored hash is a failed login, not an exception', async () => {
    const good = await hashPassword('pw');
    expect(await verifyPassword('pw', good)).toBe(true);
    for (const bad of [
      '',
      'scrypt$',
      'md5$x',
      'scrypt$3$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==',
      'scrypt$1073741824$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==',
    ]) {
      expect(await verifyPassword('pw', bad)).toBe(false);
    }
  });
});

describe('the accounts file on disk', () => {
  it('a symbolic link to a shared file: the change lands in that file, and the link stays', async () => {
    const shared = fresh();
    await new AccountStore(shared).add('first', 'x');
    const data = fresh();
    await mkdir(data);
    // relative, as `ln -s ../shared/accounts.json` makes it
    await symlink(path.join('..', path.basename(shared), 'accounts.json'), path.join(data, 'accounts.json'));
    await new AccountStore(data).add('second', 'y');
    expect((await lstat(path.join(data, 'accounts.json'))).isSymbolicLink()).toBe(true);
    expect((await new AccountStore(shared).list()).map((a) => a.name)).toEqual(['first', 'second']);
    expect((await stat(path.join(shared, 'accounts.json'))).mode & 0o777).toBe(0o600);
    // no lock or temp file left beside the link, nor beside the file
    expect(await readdir(data)).toEqual(['accounts.json']);
    expect(await readdir(shared)).toEqual(['accounts.json']);
  });

  it('root rewriting the file of a server that runs as another user keeps that user its owner', async () => {
    // the case only arises for root; the test suite runs as root (see test/helpers/pure-ftpd.ts)
    expect(process.getuid?.(), 'run the tests as root').toBe(0);
    const data = fresh();
    const store = new AccountStore(data);
    await store.add('first', 'x');
    const file = path.join(data, 'accounts.json');
    await chown(file, 65534, 65534);
    await store.add('second', 'y');
    await store.setPassword('first', 'z');
    const after = await stat(file);
    expect([after.uid, after.gid, after.mode & 0o777]).toEqual([65534, 65534, 0o600]);
  });
});

describe('a corrupt or hand-edited accounts file', () => {
  const cases: [string, string, RegExp][] = [
    [
      'a syntax error',
      '{\n  "version": 1,\n  "accounts": {\n    "a": {"name": "a",}\n  }\n}\n',
      /:4: not valid JSON/,
    ],
    ['an array', '[1, 2]\n', /:1: expected \{"version": 1/],
    [
      'accounts not an object',
      '{\n  "version": 1,\n  "accounts": null\n}\n',
      /:3: "accounts" must be an object/,
    ],
    [
      'an entry that is null',
      '{\n  "accounts": {\n    "bob": null\n  }\n}\n',
      /:3: account "bob" is not an object/,
    ],
    [
      'a hash that is a number',
      '{\n  "accounts": {\n    "bob": {"name": "bob", "class": "real", "hash": 5, "created": "2024-01-01"}\n  }\n}\n',
      /:3: account "bob" has no valid "hash"/,
    ],
    [
      'a name that is a path',
      '{\n  "accounts": {\n\n    "../x": {"name": "../x"}\n  }\n}\n',
      /:4: "\.\.\/x" is not a valid account name/,
    ],
    [
      'an entry without its name',
      '{"accounts": {"bob": {"class": "real"}}}',
      /:1: account "bob" has no "name" \(it should be "bob"\)\n$/,
    ],
    [
      'a wrong class',
      '{"accounts": {"bob": {"name": "bob", "class": "root"}}}',
      /:1: account "bob" has "class": "root"/,
    ],
  ];
  it.each(cases)('%s: one line naming the file and line, exit 1', async (_what, text, message) => {
    const data = fresh();
    await new AccountStore(data).add('seed', 'x'); // makes the directory
    await writeFile(path.join(data, 'accounts.json'), text);
    const r = await netkit(['user', 'list', '--data', data]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^netkit: \S+accounts\.json:\d+: [^\n]+\n$/);
    expect(r.stderr).toMatch(message);
    // and a server's login is refused with an error it can report, not a TypeError
    await expect(new AccountStore(data).authenticate('bob', 'x')).rejects.toMatchObject({
      code: 'NETKIT_IO',
    });
    // nothing overwrote the person's file
    expect(await readFile(path.join(data, 'accounts.json'), 'utf8')).toBe(text);
  });
});
