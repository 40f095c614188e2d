/**
 * The demo accounts the lab prints at every start must be the ones that log in: an account that
 * existed before the lab made its credentials file, a credentials file that is not the lab's, and
 * an administrator's `netkit user passwd` or `remove` since. And a config file with a syntax error
 * is one line naming its line, like the accounts file.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import { bootstrapLab, CREDENTIALS_FILE } from '../../src/lab/bootstrap.js';
import { resolveLabConfig } from '../../src/lab/config.js';
import { startLab } from '../../src/lab/lab.js';
import { LAB_ANY_PORTS } from '../helpers/lab.js';
import { netkit, tempDir } from '../helpers/net.js';

let root: string;
let cleanup: () => Promise<void>;
let n = 0;
/** A fresh data directory per test. */
const fresh = () => path.join(root, `d${++n}`);

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('netkit-lab-credentials-'));
});
afterAll(() => cleanup());

describe('the lab demo accounts', () => {
  it('an existing demo account is given the password the lab prints', async () => {
    const data = fresh();
    await new AccountStore(data).add('demo', 'chosen-before');
    const creds = await bootstrapLab(data);
    expect(creds.real.user).toBe('demo');
    const store = new AccountStore(data);
    expect(await store.authenticate('demo', creds.real.password!)).toMatchObject({ class: 'real' });
    expect(await store.authenticate('visitor', creds.guest.password!)).toMatchObject({ class: 'guest' });
  });

  it('a deleted credentials file gives both accounts new passwords that log in', async () => {
    const data = fresh();
    const first = await bootstrapLab(data);
    await rm(path.join(data, CREDENTIALS_FILE));
    const second = await bootstrapLab(data);
    expect(second.real.password).not.toBe(first.real.password);
    const store = new AccountStore(data);
    expect(await store.authenticate('demo', second.real.password!)).toBeDefined();
    expect(await store.authenticate('visitor', second.guest.password!)).toBeDefined();
    // and the next start prints the same ones
    expect(await bootstrapLab(data)).toEqual(second);
  });

  it("a credentials file that is not the lab's is one line naming it, not a TypeError", async () => {
    const data = fresh();
    await bootstrapLab(data);
    const file = path.join(data, CREDENTIALS_FILE);
    for (const text of ['{}\n', '{"real": {"user": "demo"}, "guest": null}\n', 'null\n', '[]\n']) {
      await writeFile(file, text);
      await expect(bootstrapLab(data), text).rejects.toThrow(
        `${file}: not the lab's credentials ({"real": {"user", "password"}, "guest": {…}}); delete it, and the next start sets new passwords for the demo accounts`,
      );
      expect(await readFile(file, 'utf8')).toBe(text);
    }
  });

  it('a credentials file that is not JSON names its line, in the words of the accounts file', async () => {
    const data = fresh();
    await bootstrapLab(data);
    const file = path.join(data, CREDENTIALS_FILE);
    const advice = 'delete it, and the next start sets new passwords for the demo accounts';
    for (const [text, error] of [
      [
        '{\n  "real": {"user": "demo", "password": "x"},\n  "guest": {"user": "visitor",}\n}\n',
        `${file}:3: not valid JSON (Expected double-quoted property name)`,
      ],
      // no quote of the text around the error: it would print the password next to it
      ['{"real": {"user": "demo", "password": s3cret}}\n', `${file}: not valid JSON (Unexpected token 's')`],
      ['not json\n', `${file}: not valid JSON (Unexpected token 'o')`],
      ['', `${file}: not valid JSON (Unexpected end of JSON input)`],
    ]) {
      await writeFile(file, text!);
      await expect(bootstrapLab(data), text).rejects.toMatchObject({
        code: 'NETKIT_IO',
        message: `${error}; ${advice}`,
      });
      expect(await readFile(file, 'utf8')).toBe(text);
    }
  });

  it("a password changed with netkit user passwd, or an account removed, is not printed as the lab's", async () => {
    const data = fresh();
    const { real } = await bootstrapLab(data);
    const store = new AccountStore(data);
    await store.setPassword('demo', 'the-admins-own');
    await store.remove('visitor');
    const now = await bootstrapLab(data);
    expect(now).toEqual({ real: { user: 'demo' }, guest: { user: 'visitor', removed: true } });
    // nothing was put back: the administrator's choices stand
    expect(await store.authenticate('demo', 'the-admins-own')).toBeDefined();
    expect(await store.authenticate('demo', real.password!)).toBeUndefined();
    expect(await store.get('visitor')).toBeUndefined();

    // the lab hands the same on, and its POP3 hint lets curl ask for the password instead
    const lab = await startLab(resolveLabConfig({ dataDir: data, ports: LAB_ANY_PORTS }));
    try {
      expect(lab.credentials).toEqual(now);
      const pop3 = lab.services().find((s) => s.name === 'pop3')!;
      expect(pop3.hint).toBe(`curl --user demo pop3://127.0.0.1:${pop3.port}/`);
    } finally {
      await lab.close();
    }
  });
});

describe('netkit lab --config with a syntax error', () => {
  it('names the file and the line, exit 2', async () => {
    const dir = fresh();
    await mkdir(dir);
    const file = path.join(dir, 'lab.json');
    await writeFile(file, '{\n  "ports": {\n    "smtp": 2525,\n  }\n}\n');
    const r = await netkit(['lab', '--config', file, '--data', path.join(dir, 'data')]);
    expect([r.code, r.stderr]).toEqual([
      2,
      `netkit: ${file}:4: not valid JSON (Expected double-quoted property name)\n`,
    ]);
  });
});
