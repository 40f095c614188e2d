/**
 * Start Debian's pure-ftpd (C, privilege-separated, MLSD, explicit FTPS) for one test file: one
 * virtual user chrooted into `root`, on a free loopback port, configured entirely from the
 * command line and a PureDB in a temporary directory (nothing in /etc).
 *
 *   const pf = await startPureFtpd(root, scratch, { tls: { cert, key } });
 *   // ftp://pf.user:pf.password@127.0.0.1:pf.port/ — the login directory is `root`
 *   await pf.stop();
 *
 * How it runs:
 * - `pure-ftpd` in the foreground (standalone, no -B) as a child process in its own process group,
 *   so that stop() also ends the per-session processes it forks. No syslog (`-f none`), the pid
 *   file in the temporary directory, dot files listed (`-D`), no anonymous logins (`-E`: pure-ftpd
 *   takes the anonymous root from the system account `ftp`, which would be a change to /etc).
 *   Its one write outside the temporary directory is compiled in and has no option: the
 *   scoreboard of live sessions in /run/pure-ftpd (a file per session, removed when it ends).
 * - The user is one line of TMP/pureftpd.passwd in the format `pure-pw useradd … -d ROOT` writes
 *   (home `ROOT/./`: chrooted into ROOT), compiled by `pure-pw mkdb TMP/pureftpd.pdb`. The
 *   password hash is SHA-512 crypt from `openssl passwd -6`, not pure-pw's argon2id, which costs
 *   pure-ftpd about 2 s of CPU per login (`t=511`) and would make every command of a test slow.
 *   Virtual users need a real uid: `nobody`/`nogroup` (65534), and
 *   the tree is handed to them (chown -R); files written into it as root after start-up must be
 *   handed over too before the server may change them: `pf.sync()`.
 * - Root is required: pure-ftpd's privilege separation and chroot need it (as an ordinary user
 *   its login hangs after PASS). CI runs as root.
 * - `tls: {cert, key}` (PEM text) turns on explicit FTPS (`-Y 1`: AUTH TLS offered, cleartext
 *   still allowed; `tlsRequired`: `-Y 2`) with the certificate and key in one PEM file (`-2`).
 * - pure-ftpd cannot listen on port 0 and report it: the port comes from freePort() and the
 *   listening socket must be proven to be the child's own (ownsPort) before it counts; a port
 *   taken in between ("Address already in use") is retried with another.
 *
 * Debian's pure-ftpd conflicts with vsftpd (both provide `ftp-server`), so where vsftpd is
 * installed the package is unpacked beside it instead (`apt-get download pure-ftpd` and
 * `dpkg-deb -x pure-ftpd_*.deb /opt/pure-ftpd`): the binaries are looked for under /usr, then
 * /opt/pure-ftpd/usr. If they are missing this throws (interop tests must fail, not skip).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, lstat, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, waitForPort } from '../../bench/_net.mjs';

export const PURE_FTPD_PREFIXES = ['/usr', '/opt/pure-ftpd/usr'];
const NOBODY = 65534;

export interface PureFtpdOptions {
  /** virtual user (default `bob`) */
  user?: string;
  /** its password (default `pure-Secret`) */
  password?: string;
  /** explicit FTPS with this certificate and key (PEM text) */
  tls?: { cert: string; key: string };
  /** refuse cleartext sessions (`-Y 2`); needs `tls` */
  tlsRequired?: boolean;
  /** most entries in one listing (`-L N:5`; pure-ftpd's default is 10,000) */
  listLimit?: number;
  /** TZ of the server process (its LIST times and greeting are local time; MLSD and MDTM are UTC) */
  tz?: string;
}

export interface PureFtpdHandle {
  port: number;
  user: string;
  password: string;
  /** hand files written into the root since start-up to the virtual user */
  sync: () => Promise<void>;
  stop: () => Promise<void>;
  /** what pure-ftpd wrote on stderr */
  stderr: () => string;
}

/** pure-ftpd and pure-pw, from the first prefix that has both. */
export function pureFtpdBinaries(): { ftpd: string; pw: string } {
  for (const prefix of PURE_FTPD_PREFIXES) {
    const ftpd = path.join(prefix, 'sbin', 'pure-ftpd');
    const pw = path.join(prefix, 'bin', 'pure-pw');
    if (existsSync(ftpd) && existsSync(pw)) return { ftpd, pw };
  }
  throw new Error(
    `pure-ftpd not found under ${PURE_FTPD_PREFIXES.join(' or ')}: install Debian's pure-ftpd, or beside vsftpd unpack it with \`apt-get download pure-ftpd && dpkg-deb -x pure-ftpd_*.deb /opt/pure-ftpd\``,
  );
}

async function chownTree(p: string, uid: number, gid: number): Promise<void> {
  const st = await lstat(p);
  if (st.isSymbolicLink()) return;
  await chown(p, uid, gid);
  if (st.isDirectory()) for (const name of await readdir(p)) await chownTree(path.join(p, name), uid, gid);
}

/** Run a tool to completion; its stdout, or an error with its stderr. */
function tool(cmd: string, args: string[], input: string, cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d.toString();
    });
    child.stderr!.on('data', (d) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${path.basename(cmd)} ${args[0]} exited ${code}: ${stderr.trim()}`)),
    );
    child.stdin!.end(input);
  });
}

export async function startPureFtpd(
  root: string,
  scratch: string,
  opts: PureFtpdOptions = {},
): Promise<PureFtpdHandle> {
  const { ftpd, pw } = pureFtpdBinaries();
  if (process.getuid?.() !== 0)
    throw new Error(
      'pure-ftpd virtual users need root (privilege separation and chroot): run the tests as root',
    );
  const user = opts.user ?? 'bob';
  const password = opts.password ?? 'pure-Secret';
  const dir = path.join(scratch, 'pure-ftpd');
  await mkdir(dir, { recursive: true });
  const pdb = path.join(dir, 'pureftpd.pdb');
  const passwd = path.join(dir, 'pureftpd.passwd');
  // pure-pw's own hash (argon2id, t=511) costs pure-ftpd about 2 s of CPU per login; SHA-512
  // crypt, which pure-ftpd checks with crypt(3), about a millisecond
  const hash = (await tool('openssl', ['passwd', '-6', '-stdin'], password, dir)).trim();
  // user:password:uid:gid:gecos:home (/./ = chroot):bandwidth, ratio, quota, IP and time limits
  const line = [user, hash, NOBODY, NOBODY, '', `${root}/./`, ...Array(12).fill('')].join(':');
  await writeFile(passwd, `${line}\n`, { mode: 0o600 });
  await tool(pw, ['mkdb', pdb, '-f', passwd], '', dir);
  const sync = () => chownTree(root, NOBODY, NOBODY);
  await sync();
  const args = [
    '-l',
    `puredb:${pdb}`,
    '-E',
    '-A',
    '-H',
    '-D',
    '-f',
    'none',
    '-g',
    path.join(dir, 'pure-ftpd.pid'),
  ];
  if (opts.tls) {
    const pem = path.join(dir, 'pure-ftpd.pem');
    await writeFile(pem, `${opts.tls.cert.trim()}\n${opts.tls.key.trim()}\n`, { mode: 0o600 });
    args.push('-Y', opts.tlsRequired ? '2' : '1', '-2', pem);
  }
  if (opts.listLimit !== undefined) args.push('-L', `${opts.listLimit}:5`);
  const env = opts.tz === undefined ? process.env : { ...process.env, TZ: opts.tz };

  for (let attempt = 1; ; attempt++) {
    let stderr = '';
    const port = await freePort();
    const child: ChildProcess = spawn(ftpd, ['-S', `127.0.0.1,${port}`, ...args], {
      cwd: dir,
      env,
      detached: true, // its own process group: stop() ends the session processes too
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // no pid: the spawn itself failed, and waitForPort without one would take any listener
    if (child.pid === undefined) throw new Error(`pure-ftpd could not be started (${ftpd})`);
    let exited = false;
    const gone = new Promise<void>((resolve) =>
      child.once('exit', () => {
        exited = true;
        resolve();
      }),
    );
    child.once('error', (err) => {
      stderr += `${err.message}\n`;
      exited = true;
    });
    child.stderr!.on('data', (d) => {
      stderr += d.toString();
    });
    const stop = async () => {
      if (!exited) {
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {}
        await gone;
      }
    };
    if (await waitForPort(port, { pid: child.pid, gaveUp: () => exited })) {
      return { port, user, password, sync, stop, stderr: () => stderr };
    }
    await stop();
    // pure-ftpd exits 0 after "Unable to start a standalone server: Address already in use"
    if (!/Address already in use/.test(stderr) || attempt >= 5)
      throw new Error(`pure-ftpd did not start on 127.0.0.1:${port}: ${stderr.trim() || 'no output'}`);
  }
}
