import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExpires } from '../../src/cli/user.js';
import { AccountStore } from '../../src/core/accounts.js';
import { netkit, tempDir } from '../helpers/net.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-user-'));
});
afterAll(async () => {
  await cleanup();
});

const user = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  netkit(['user', ...args, '--data', dir], { env: { NETKIT_PASSWORD: undefined, ...env } });

describe('netkit user', () => {
  it('add (password from --password and from NETKIT_PASSWORD), list, passwd, remove', async () => {
    const a = await user(['add', 'Bob', '--password', 'hunter2']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^added real account bob in .*accounts\.json\n$/);
    const b = await user(['add', 'eve', '--guest', '--expires', '2099-01-01', '--json'], {
      NETKIT_PASSWORD: 'x',
    });
    expect(b.code).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({
      name: 'eve',
      class: 'guest',
      expires: '2099-01-01T00:00:00.000Z',
    });

    const file = path.join(dir, 'accounts.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const raw = await readFile(file, 'utf8');
    expect(raw).not.toContain('hunter2');
    expect(raw).toMatch(/"hash": "scrypt\$/);

    const list = await user(['list']);
    expect(list.stdout).toMatch(
      /^NAME +CLASS +CREATED +EXPIRES\nbob +real +\d{4}-\d{2}-\d{2} +-\neve +guest +\S+ +2099-01-01 00:00\n$/,
    );
    const json = JSON.parse((await user(['list', '--json'])).stdout);
    expect(json.map((x: { name: string }) => x.name)).toEqual(['bob', 'eve']);
    expect(JSON.stringify(json)).not.toContain('scrypt');

    const store = new AccountStore(dir);
    expect(await store.authenticate('bob', 'hunter2')).toBeDefined();
    expect((await user(['passwd', 'bob'], { NETKIT_PASSWORD: 'n3w' })).code).toBe(0);
    expect(await store.authenticate('bob', 'hunter2')).toBeUndefined();
    expect(await store.authenticate('bob', 'n3w')).toBeDefined();

    expect((await user(['remove', 'eve'])).stdout).toBe('removed eve\n');
    expect(JSON.parse((await user(['list', '--json'])).stdout)).toHaveLength(1);
  });

  it('errors: one line on stderr, exit 1 for failures, 2 for usage and invalid names', async () => {
    await user(['add', 'dup', '--password', 'x']);
    const dup = await user(['add', 'dup', '--password', 'y']);
    expect([dup.code, dup.stderr]).toEqual([1, 'netkit: account "dup" already exists\n']);
    const missing = await user(['passwd', 'ghost', '--password', 'x']);
    expect([missing.code, missing.stderr]).toEqual([1, 'netkit: no account "ghost"\n']);
    expect((await user(['remove', 'ghost'])).code).toBe(1);
    const bad = await user(['add', '../root', '--password', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^netkit: invalid account name/);
    expect((await user(['add', 'anonymous', '--password', 'x'])).code).toBe(2);
    const date = await user(['add', 'x1', '--expires', 'someday', '--password', 'x']);
    expect(date.code).toBe(2);
    // no TTY, no --password, no NETKIT_PASSWORD: a usage error, nothing written
    const nopw = await user(['add', 'x2']);
    expect([nopw.code, nopw.stderr]).toEqual([
      2,
      'netkit: no password given: use --password or NETKIT_PASSWORD (stdin is not a terminal to ask on)\n',
    ]);
    expect((await user(['add', 'x3', '--password', ''])).code).toBe(2);
    expect(
      JSON.parse((await user(['list', '--json'])).stdout).map((x: { name: string }) => x.name),
    ).not.toContain('x2');
  });

  it("refuses FTP's anonymous names in any case, and names that are no e-mail local part", async () => {
    for (const name of ['Anonymous', 'FTP', 'bob.', 'a..b']) {
      const r = await user(['add', name, '--password', 'x']);
      expect([name, r.code, r.stderr]).toEqual([
        name,
        2,
        `netkit: invalid account name "${name}": use letters, digits and . _ - (max 64, starting with a letter or digit, no dot at the end or twice in a row); anonymous and ftp are reserved\n`,
      ]);
    }
    expect((await user(['add', 'b.o-b_1', '--password', 'x'])).code).toBe(0);
    const names = JSON.parse((await user(['list', '--json'])).stdout).map((x: { name: string }) => x.name);
    expect(names).not.toContain('anonymous');
    expect(names).not.toContain('ftp');
  });

  it('a name with a newline or an escape sequence is shown escaped, on one line', async () => {
    const bad = await user(['add', 'a\nb\u001b[2J', '--password', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^netkit: invalid account name "a\\x0ab\\x1b\[2J": [^\n]+\n$/);
    const missing = await user(['passwd', 'x\u001b]0;owned\u0007', '--password', 'x']);
    expect([missing.code, missing.stderr]).toEqual([1, 'netkit: no account "x\\x1b]0;owned\\x07"\n']);
  });

  it('--password warns on stderr that it is visible; NETKIT_PASSWORD does not', async () => {
    const flag = await user(['add', 'warned', '--password', 'sekrit']);
    expect(flag.code).toBe(0);
    expect(flag.stderr).toBe(
      'netkit: warning: --password is visible to other users (ps) and kept in shell history; prefer NETKIT_PASSWORD or the prompt\n',
    );
    expect(flag.stdout + flag.stderr).not.toContain('sekrit');
    const env = await user(['passwd', 'warned'], { NETKIT_PASSWORD: 'sekrit2' });
    expect([env.code, env.stderr]).toEqual([0, '']);
    expect(env.stdout + env.stderr).not.toContain('sekrit2');
  });

  it('--help has examples', async () => {
    for (const args of [
      ['user', '--help'],
      ['user', 'add', '--help'],
      ['user', 'list', '--help'],
    ]) {
      const r = await netkit(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Examples:');
    }
  });
});

describe('parseExpires', () => {
  const now = Date.UTC(2030, 0, 1);
  it.each([
    ['2031-02-03', '2031-02-03T00:00:00.000Z'],
    ['2031-02-03T04:05:06Z', '2031-02-03T04:05:06.000Z'],
    ['+7d', '2030-01-08T00:00:00.000Z'],
    ['+12h', '2030-01-01T12:00:00.000Z'],
  ])('%s → %s', (input, expected) => {
    expect(parseExpires(input, now)).toBe(expected);
  });
  it.each(['tomorrow', '7d', '2031-13-45', ''])('refuses %j', (input) => {
    expect(() => parseExpires(input, now)).toThrow(/not a date/);
  });
  it('refuses a date in the past (an account that could never log in)', () => {
    expect(() => parseExpires('2000-01-01', now)).toThrow(/in the past/);
  });
});
