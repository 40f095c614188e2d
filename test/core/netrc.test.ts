/**
 * netrc files: our parser against Python's `netrc` module on the same file, the mode check, and
 * logins taken from a netrc file by `netkit ftp` (against pyftpdlib) and `netkit http -n`.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findNetrc, loadNetrc, netrcLogin, parseNetrc } from '../../src/core/netrc.js';
import { pattern, startPyftpdlib, writeTree } from '../ftp/client-helpers.js';
import { netkit, run, tempDir } from '../helpers/net.js';
import { startTestServer, type TestServer } from '../http/http-test-server.js';

const SAMPLE = `# logins
machine ftp.example.org login alice password s3cret
machine FTP.Example.org login bob password "two words \\"quoted\\""
machine multi.example.org
    login carol
    account ignored
    password p4ss
macdef init
cd /pub
binary

machine after.macro login dave password d
default login anonymous password guest@example.org
`;

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-netrc-'));
});
afterAll(async () => cleanup());

describe('netrc parsing', () => {
  it('reads machines, default, quoted values, entries over several lines; skips comments and macdef', () => {
    const entries = parseNetrc(SAMPLE);
    expect(entries).toEqual([
      { machine: 'ftp.example.org', login: 'alice', password: 's3cret' },
      { machine: 'FTP.Example.org', login: 'bob', password: 'two words "quoted"' },
      { machine: 'multi.example.org', login: 'carol', password: 'p4ss' },
      { machine: 'after.macro', login: 'dave', password: 'd' },
      { login: 'anonymous', password: 'guest@example.org' },
    ]);
    expect(findNetrc(entries, 'FTP.example.ORG')).toEqual(entries[0]);
    expect(findNetrc(entries, 'ftp.example.org', 'bob')).toEqual(entries[1]);
    expect(findNetrc(entries, 'elsewhere.test')).toEqual(entries[4]);
    expect(findNetrc(entries, 'elsewhere.test', 'zed')).toBeUndefined();
    expect(findNetrc(parseNetrc('machine ::1 login v6 password x'), '[::1]')?.login).toBe('v6');
  });

  it('agrees with Python’s netrc module on the same file', async () => {
    const file = path.join(dir, 'python.netrc');
    await writeFile(file, SAMPLE, { mode: 0o600 });
    const hosts = ['ftp.example.org', 'multi.example.org', 'after.macro', 'elsewhere.test'];
    const py = await run('/usr/bin/python3', [
      '-c',
      'import json, netrc, sys\nn = netrc.netrc(sys.argv[1])\nprint(json.dumps([n.authenticators(h) for h in sys.argv[2:]]))',
      file,
      ...hosts,
    ]);
    expect(py.code, py.stderr).toBe(0);
    const theirs = JSON.parse(py.stdout) as Array<[string, string, string]>;
    const { entries } = await loadNetrc(file);
    expect(hosts.map((h) => [findNetrc(entries, h)?.login, findNetrc(entries, h)?.password])).toEqual(
      theirs.map((t) => [t[0], t[2]]),
    );
  });

  it('refuses to use a password from a netrc that others may read; a missing default file is no logins', async () => {
    const file = path.join(dir, 'open.netrc');
    await writeFile(file, 'machine h login u password p\nmachine nopw login anonymous\n');
    await chmod(file, 0o644);
    await expect(netrcLogin('h', undefined, file)).rejects.toThrow(
      /holds the password for h but others may read it: chmod 600/,
    );
    // an entry without a password, or no entry at all, is fine whatever the mode (as in ftp(1))
    expect(await netrcLogin('nopw', undefined, file)).toEqual({ machine: 'nopw', login: 'anonymous' });
    expect(await netrcLogin('elsewhere', undefined, file)).toBeUndefined();
    await chmod(file, 0o600);
    expect(await netrcLogin('h', undefined, file)).toEqual({ machine: 'h', login: 'u', password: 'p' });
    await expect(loadNetrc(path.join(dir, 'missing'))).rejects.toThrow(/cannot read netrc file/);
    const saved = process.env.NETRC;
    process.env.NETRC = path.join(dir, 'missing');
    try {
      expect((await loadNetrc()).entries).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.NETRC;
      else process.env.NETRC = saved;
    }
  });
});

describe('logins from netrc', () => {
  let py: Awaited<ReturnType<typeof startPyftpdlib>>;
  let web: TestServer;
  let netrc: string;

  beforeAll(async () => {
    const home = path.join(dir, 'ftp-home');
    const anon = path.join(dir, 'ftp-anon');
    await mkdir(anon, { recursive: true });
    await writeTree(home, { 'only-bob.txt': pattern(100, 3) });
    [py, web] = await Promise.all([startPyftpdlib('bob', 'ftp-S3cret', home, anon), startTestServer()]);
    netrc = path.join(dir, 'logins.netrc');
    await writeFile(
      netrc,
      'machine 127.0.0.1 login bob password ftp-S3cret\n' +
        // the test server's /auth wants bob:s3cret:x; a host name of its own keeps the entries apart
        'machine localhost login bob password s3cret:x\n',
      { mode: 0o600 },
    );
  });
  afterAll(async () => {
    await py?.stop();
    await web?.close();
  });

  it('netkit ftp logs in with the netrc login for the host (pyftpdlib), and --no-netrc does not', async () => {
    const url = `ftp://127.0.0.1:${py.port}/`;
    const viaFile = await netkit(['ftp', 'ls', '--netrc-file', netrc, url]);
    expect(viaFile.code, viaFile.stderr).toBe(0);
    expect(viaFile.stdout).toContain('only-bob.txt');
    const viaEnv = await netkit(['ftp', 'ls', url], { env: { NETRC: netrc } });
    expect(viaEnv.stdout).toContain('only-bob.txt');
    // without the netrc the login is anonymous, whose directory is empty
    const skipped = await netkit(['ftp', 'ls', '--no-netrc', url], { env: { NETRC: netrc } });
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(skipped.stdout).not.toContain('only-bob.txt');
    // NETKIT_PASSWORD gives the password; the user still comes from the netrc
    const envPassword = await netkit(['ftp', 'ls', url], {
      env: { NETRC: netrc, NETKIT_PASSWORD: 'ftp-S3cret' },
    });
    expect(envPassword.stdout).toContain('only-bob.txt');
    // a readable netrc without an entry for this host does not get in the way of anonymous access
    const other = path.join(dir, 'other.netrc');
    await writeFile(other, 'machine elsewhere.example login x password y\n');
    await chmod(other, 0o644);
    const anonymous = await netkit(['ftp', 'ls', url], { env: { NETRC: other } });
    expect(anonymous.code, anonymous.stderr).toBe(0);
  });

  it('netkit http -n sends the netrc login as Basic auth, only when asked', async () => {
    const url = `http://localhost:${web.port}/auth`;
    const withNetrc = await netkit(['http', 'get', '-n', url], { env: { NETRC: netrc } });
    expect(withNetrc.stdout).toBe('hello bob\n');
    const viaFile = await netkit(['http', 'get', '--netrc-file', netrc, url]);
    expect(viaFile.stdout).toBe('hello bob\n');
    const without = await netkit(['http', 'get', url], { env: { NETRC: netrc } });
    expect(without.stdout).toBe('who are you?\n');
    // a user in the URL without a password: the netrc entry for that user completes it (as curl)
    const userOnly = await netkit(['http', 'get', '-n', url.replace('http://', 'http://bob@')], {
      env: { NETRC: netrc },
    });
    expect(userOnly.stdout).toBe('hello bob\n');
  });
});
