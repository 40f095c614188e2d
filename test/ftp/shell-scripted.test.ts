/**
 * `netkit ftp shell` driven as a script on stdin (no terminal: no prompt, no echo, exit 1 when any
 * command failed) against OUR server (createFtpServer) and against Debian's pyftpdlib, an
 * independent server started by the test (/usr/bin/python3; the test fails if it is missing).
 * The same session runs on both: open, user, ls, cd, put/get byte-identical, mput/mget with
 * wildcards, rename, delete, mdelete, mkdir/rmdir, quote (PASS refused), a failing get that does
 * not stop the commands after it, and bye ending the script early; then reget of a partial
 * download and reput of a partial upload.
 */
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import { createFtpServer, type FtpServerHandle } from '../../src/ftp/server.js';
import { netkit, tempDir } from '../helpers/net.js';
import { pattern, sha256, startPyftpdlib, treeDigest, writeTree } from './client-helpers.js';

const PW = 'shell-Secret-7';
let base: string;
let cleanup: () => Promise<void>;
let ours: FtpServerHandle;
let py: Awaited<ReturnType<typeof startPyftpdlib>>;
/** the FTP home of the user on each server, as a local directory */
const homes: Record<string, string> = {};
const ports: Record<string, number> = {};
const users: Record<string, string> = { ours: 'carol', pyftpdlib: 'bob' };

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpshell-'));
  const root = path.join(base, 'ftp');
  const data = path.join(base, 'data');
  await new AccountStore(data).add('carol', PW);
  homes.ours = path.join(root, 'home/carol');
  await mkdir(homes.ours, { recursive: true });
  await mkdir(path.join(root, 'pub'), { recursive: true });
  ours = await createFtpServer({ root, dataDir: data, port: 0, loginFailureDelayMs: 0, maxLoginFailures: 0 });
  ports.ours = ours.port;
  homes.pyftpdlib = path.join(base, 'py-home');
  const anon = path.join(base, 'py-anon');
  await mkdir(homes.pyftpdlib, { recursive: true });
  await mkdir(anon, { recursive: true });
  py = await startPyftpdlib('bob', PW, homes.pyftpdlib, anon);
  ports.pyftpdlib = py.port;
});

afterAll(async () => {
  await ours?.close(500);
  await py?.stop();
  await cleanup?.();
});

/** Run the shell with `script` on stdin, in `cwd`. */
function shell(
  script: string,
  opts: { cwd: string; url?: string; args?: string[]; env?: NodeJS.ProcessEnv },
) {
  const args = ['ftp', 'shell', ...(opts.url ? [opts.url] : []), ...(opts.args ?? [])];
  return netkit(args, { input: script, cwd: opts.cwd, env: opts.env ?? {}, timeoutMs: 25_000 });
}

async function workDir(name: string): Promise<string> {
  const dir = path.join(base, name);
  await writeTree(dir, {
    'a.txt': 'alpha\n',
    'b.txt': 'bravo\n',
    'c.log': 'not a text file\n',
    'big.bin': pattern(150_000, 3),
  });
  await mkdir(path.join(dir, 'down'));
  return dir;
}

describe.each(['ours', 'pyftpdlib'])('a scripted session against %s', (server) => {
  it('runs every line, reports failures in one line each, and exits 1 because some failed', async () => {
    const work = await workDir(`work-${server}`);
    const home = homes[server]!;
    const port = ports[server]!;
    const user = users[server]!;
    const r = await shell(
      `# set up
open 127.0.0.1 ${port}
user ${user} ${PW}
pwd
mkdir docs
cd docs
put big.bin
mput *.txt
ls
get big.bin copy.bin
get missing.txt
rename a.txt 'a renamed.txt'
ls
size big.bin
quote NOOP
quote PASS ${PW}
lcd down
mget *.txt
lcd ..
mdelete *.txt
delete big.bin
cd ..
rmdir docs
bye
mkdir never
`,
      { cwd: work },
    );
    expect(r.code, r.stderr).toBe(1);

    // results on stdout, in order
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 5)).toEqual([
      `Connected to 127.0.0.1:${port} as anonymous.`,
      `Logged in to 127.0.0.1:${port} as ${user}.`,
      '/',
      'created docs',
      'a.txt',
    ]);
    expect(r.stdout).toContain('a.txt\nb.txt\nbig.bin\n');
    expect(r.stdout).toContain('renamed a.txt -> a renamed.txt\na renamed.txt\nb.txt\nbig.bin\n');
    expect(r.stdout).toContain('big.bin\t150000\n');
    expect(r.stdout).toMatch(/^200 .*\n/m);
    expect(r.stdout).toContain(`Local directory now ${path.join(work, 'down')}\n`);
    expect(r.stdout).toContain('removed a renamed.txt\nremoved b.txt\nremoved big.bin\nremoved docs\n');

    // transfer summaries and the failures on stderr, one line each; nothing else
    const err = r.stderr.trimEnd().split('\n');
    expect(err).toEqual([
      expect.stringMatching(/^uploaded big\.bin \(146\.5 KiB in \d+\.\ds, .*\/s\)$/),
      expect.stringMatching(/^uploaded a\.txt \(6 B in /),
      expect.stringMatching(/^uploaded b\.txt \(6 B in /),
      expect.stringMatching(/^saved copy\.bin \(146\.5 KiB in /),
      expect.stringMatching(/^get missing\.txt: 550 /),
      'quote PASS is refused (it would put the password in the trace): use "user NAME"',
      expect.stringMatching(/^saved a renamed\.txt \(6 B in /),
      expect.stringMatching(/^saved b\.txt \(6 B in /),
    ]);
    expect(r.stderr + r.stdout).not.toContain(PW);

    // byte-identical both ways; c.log matched no *.txt; nothing ran after bye
    expect(sha256(await readFile(path.join(work, 'copy.bin')))).toBe(sha256(pattern(150_000, 3)));
    expect(await treeDigest(path.join(work, 'down'))).toEqual({
      'a renamed.txt': sha256(Buffer.from('alpha\n')),
      'b.txt': sha256(Buffer.from('bravo\n')),
    });
    expect(await readdir(home)).toEqual([]);
    await expect(stat(path.join(work, 'missing.txt.part'))).rejects.toThrow();
  });

  it('exits 0 when every command succeeded; the URL on the command line logs in and changes directory', async () => {
    const work = await workDir(`clean-${server}`);
    await writeTree(homes[server]!, { 'pub2/x.txt': 'x\n', 'pub2/y.txt': 'y\n' });
    const r = await shell('pwd\nmget ?.txt\nls -l\n', {
      cwd: work,
      url: `ftp://${users[server]}@127.0.0.1:${ports[server]}/pub2/`,
      env: { NETKIT_PASSWORD: PW },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Connected to .* as (carol|bob)\.\n\/pub2\n/);
    expect(r.stdout).toMatch(/^-\S+\s+2\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+x\.txt$/m);
    expect(await readFile(path.join(work, 'x.txt'), 'utf8')).toBe('x\n');
    expect(await readFile(path.join(work, 'y.txt'), 'utf8')).toBe('y\n');
  });

  it('reget continues a partial download and reput appends the missing tail, byte-identical', async () => {
    const work = path.join(base, `resume-${server}`);
    const body = pattern(200_000, 9);
    await writeTree(homes[server]!, { 'full.bin': body });
    await writeTree(work, { 'dl/full.bin.part': body.subarray(0, 70_000), 'up.bin': pattern(120_000, 4) });
    // the server holds the first 50,000 bytes of an interrupted upload
    await writeFile(path.join(homes[server]!, 'up.bin'), pattern(120_000, 4).subarray(0, 50_000));
    const r = await shell(`lcd dl\nreget full.bin\nlcd ..\nreput up.bin\n`, {
      cwd: work,
      url: `ftp://${users[server]}:${PW}@127.0.0.1:${ports[server]}/`,
      args: ['--trace'],
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^saved full\.bin \(195\.3 KiB in .*, resumed at 68\.4 KiB\)$/m);
    expect(r.stderr).toContain('C: REST 70000');
    expect(r.stderr).toMatch(/^uploaded up\.bin \(117\.2 KiB in .*, resumed at 48\.8 KiB\)$/m);
    expect(r.stderr).toContain('C: APPE up.bin');
    expect(r.stderr).toContain('C: PASS ****');
    expect(r.stderr).not.toContain(PW);
    expect(sha256(await readFile(path.join(work, 'dl/full.bin')))).toBe(sha256(body));
    await expect(stat(path.join(work, 'dl/full.bin.part'))).rejects.toThrow();
    expect(sha256(await readFile(path.join(homes[server]!, 'up.bin')))).toBe(sha256(pattern(120_000, 4)));
  });

  it('passive off: put, get and ls in active mode (PORT); passive toggles back; status tells', async () => {
    const work = await workDir(`active-${server}`);
    const r = await shell(
      'passive off\nput big.bin act.bin\nget act.bin down/act.bin\nls\nstatus\npassive\nls\n',
      {
        cwd: work,
        url: `ftp://${users[server]}:${PW}@127.0.0.1:${ports[server]}/`,
        args: ['--trace'],
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'Passive mode: off (active mode: the server connects to us after PORT/EPRT).\n',
    );
    expect(r.stdout).toContain('Passive mode: on (we connect to the server: EPSV, then PASV).\n');
    expect(r.stdout).toMatch(/passive: off;/);
    expect(r.stdout).toMatch(/^act\.bin$/m);
    expect(sha256(await readFile(path.join(homes[server]!, 'act.bin')))).toBe(sha256(pattern(150_000, 3)));
    expect(sha256(await readFile(path.join(work, 'down/act.bin')))).toBe(sha256(pattern(150_000, 3)));
    // three transfers in active mode, then the last listing passive again
    const modes = [...r.stderr.matchAll(/C: (PORT|EPSV|PASV)\b/g)].map((m) => m[1]);
    expect(modes).toEqual(['PORT', 'PORT', 'PORT', 'EPSV']);
  });
});

describe('the shell against our server', () => {
  const url = () => `ftp://carol:${PW}@127.0.0.1:${ours.port}/`;

  it('a wrong password is one line; "user" then logs in on the same server', async () => {
    const work = await workDir('login');
    const r = await shell(`open ftp://carol:wrong@127.0.0.1:${ours.port}/\nls\nuser carol ${PW}\npwd\n`, {
      cwd: work,
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `login failed for user "carol" at 127.0.0.1:${ours.port}: 530 Login incorrect ("user NAME" logs in as someone else)`,
      'not connected (open HOST first)',
    ]);
    expect(r.stdout).toBe(`Logged in to 127.0.0.1:${ours.port} as carol.\n/\n`);
  });

  it('a malformed URL on the command line is a usage error (exit 2) before anything runs', async () => {
    const r = await shell('pwd\n', { cwd: base, url: 'ftp://127.0.0.1:99999/' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('netkit: bad FTP URL "ftp://127.0.0.1:99999/": "99999" is not a port (1-65535)\n');
    expect(r.stdout).toBe('');
  });

  it('refuses what it cannot do in one line each, and goes on', async () => {
    const work = await workDir('refusals');
    const r = await shell(
      [
        '!ls',
        'frobnicate',
        "get 'unterminated",
        'get',
        'mget *.nothing',
        'passive maybe',
        'cd /nowhere',
        'lcd /nonexistent-dir-xyz',
        'quote FROB',
        'pwd',
      ].join('\n'),
      { cwd: work, url: url() },
    );
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      'local shell commands (!) are not supported: this shell runs nothing locally',
      'unknown command "frobnicate" (help lists the commands)',
      'unterminated single quote',
      'usage: get REMOTE [LOCAL]',
      'mget: no remote file matches *.nothing',
      'usage: passive [on|off]',
      expect.stringMatching(/^cd \/nowhere: 550 /),
      'lcd /nonexistent-dir-xyz: no such directory',
      expect.stringMatching(/^5\d\d /),
    ]);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('/');
  });

  it('mirror reuses the mirror command: up, then down, trees equal; help and status describe the session', async () => {
    const work = path.join(base, 'mirror');
    await writeTree(work, { 'site/index.html': '<h1>hi</h1>\n', 'site/img/logo.bin': pattern(40_000, 5) });
    const r = await shell(
      'mirror --reverse site site\nmirror site copy\nmirror site copy\nstatus\nhelp mget\n',
      {
        cwd: work,
        url: url(),
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('uploaded 2 files (39.1 KiB), 1 new dir, 0 deleted, 0 up to date\n');
    expect(r.stdout).toContain('downloaded 2 files (39.1 KiB), 1 new dir, 0 deleted, 0 up to date\n');
    expect(r.stdout).toContain('downloaded 0 files (0 B), 0 new dirs, 0 deleted, 2 up to date\n');
    expect(await treeDigest(path.join(work, 'copy'))).toEqual(await treeDigest(path.join(work, 'site')));
    expect(r.stdout).toContain(
      `Connected to 127.0.0.1:${ours.port} as carol (no TLS).\nRemote directory: /\n`,
    );
    expect(r.stdout).toContain(`Local directory: ${work}\n`);
    expect(r.stdout).toContain('mget GLOB…\n  download every remote file matching');
  });

  it('ascii converts line ends both ways; reget is refused in ascii', async () => {
    const work = path.join(base, 'ascii');
    await writeTree(work, { 'notes.txt': 'one\ntwo\n' });
    const r = await shell(
      'ascii\nput notes.txt\nget notes.txt back.txt\nreget notes.txt\nbinary\nget notes.txt raw.txt\n',
      {
        cwd: work,
        url: url(),
      },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('reget needs binary mode');
    expect(await readFile(path.join(homes.ours!, 'notes.txt'), 'utf8')).toBe('one\ntwo\n');
    expect(await readFile(path.join(work, 'back.txt'), 'utf8')).toBe('one\ntwo\n');
    expect(await readFile(path.join(work, 'raw.txt'), 'utf8')).toBe('one\ntwo\n');
    expect(r.stdout).toMatch(/^200 .*A.*\n[\s\S]*^200 .*I/m);
  });

  it('a connection the server drops is reported; open connects again to the same place', async () => {
    const work = await workDir('dropped');
    // after QUIT the server closes: the next command finds the connection gone (or runs into it)
    const r = await shell('quote QUIT\nls\nopen\npwd\n', { cwd: work, url: url() });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^221 /m);
    expect(r.stderr).toContain(`connection to 127.0.0.1:${ours.port} closed; "open" connects again`);
    expect(r.stdout).toContain(`Connected to 127.0.0.1:${ours.port} as carol.\n/\n`);
  });
});
