/**
 * The accounts store beyond the happy path: concurrent editors (processes and promises), names
 * that are Object.prototype members, hand-edited and corrupt files, malformed hashes.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
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
