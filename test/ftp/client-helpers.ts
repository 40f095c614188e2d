/** Helpers for the FTP client tests: file trees, checksums, our server and pyftpdlib and vsftpd started per test file. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { writeVsftpdConfig } from '../../bench/_vsftpd.mjs';
import { AccountStore } from '../../src/core/accounts.js';
import { createFtpServer, type FtpServerHandle, type FtpServerOptions } from '../../src/ftp/server.js';

/** Deterministic bytes (not compressible, not all alike) so an offset error shows up. */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** relative path → sha256 (files) or 'dir', for whole-tree comparisons */
export async function treeDigest(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out[r] = 'dir';
        await walk(r);
      } else out[r] = sha256(await readFile(path.join(root, r)));
    }
  };
  await walk('');
  return out;
}

/** Write a small tree: { 'a/b.txt': 'text' or Buffer }. */
export async function writeTree(root: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), body);
  }
}

const PYFTPD = `
import sys, logging
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
logging.basicConfig(level=logging.WARNING)
a = DummyAuthorizer()
a.add_user(sys.argv[1], sys.argv[2], sys.argv[3], perm='elradfmwMT')
a.add_anonymous(sys.argv[4])
h = FTPHandler
h.authorizer = a
h.banner = 'pyftpdlib ready'
h.auth_failed_timeout = 0.05
s = FTPServer((sys.argv[5], 0), h)
print(s.socket.getsockname()[1], flush=True)
s.serve_forever()
`;

/** Start Debian's pyftpdlib (/usr/bin/python3) on `host` and a port it picks; resolves with that port. */
export function startPyftpdlib(
  user: string,
  password: string,
  home: string,
  anonHome: string,
  host = '127.0.0.1',
): Promise<{ port: number; child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn('/usr/bin/python3', ['-c', PYFTPD, user, password, home, anonHome, host], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d.toString();
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    await done;
  };
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`pyftpdlib exited ${code}: ${stderr}`)));
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (m) resolve({ port: Number(m[1]), child, stop });
    });
  });
}

/**
 * Start Debian's vsftpd for one test file, anonymous access to `root` (`pub/` readable, `incoming/`
 * writable, rename and delete allowed there). vsftpd runs in inetd mode: this process listens on a
 * port the OS picks and hands each accepted connection to a fresh `vsftpd CONF` as its stdin and
 * stdout — so no fixed port, and nothing to poll for readiness.
 */
export async function startVsftpd(
  root: string,
  scratch: string,
): Promise<{ port: number; stop: () => Promise<void>; stderr: () => string }> {
  const conf = await writeVsftpdConfig(scratch, {
    root,
    modify: true,
    extra: ['pasv_address=127.0.0.1'],
  });
  let stderr = '';
  const children = new Set<ChildProcess>();
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    const child = spawn('vsftpd', [conf], { stdio: [socket, socket, 'pipe'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    child.stderr!.on('data', (d) => {
      stderr += d.toString();
    });
    socket.destroy(); // the child has its own copy of the connection
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stop = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all(
      [...children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
          }),
      ),
    );
  };
  return { port: (server.address() as net.AddressInfo).port, stop, stderr: () => stderr };
}

/**
 * Our own server (createFtpServer, port 0) under `base`/ftp for client tests: one real account whose
 * home `base`/ftp/home/USER holds `files` (paths relative to the home); `extra` adds server options.
 */
export async function startOurFtpServer(
  base: string,
  account: { user: string; password: string },
  files: Record<string, string | Buffer>,
  extra: Partial<FtpServerOptions> = {},
): Promise<{ server: FtpServerHandle; home: string; options: FtpServerOptions }> {
  const root = path.join(base, 'ftp');
  const data = path.join(base, 'data');
  await new AccountStore(data).add(account.user, account.password);
  const home = path.join(root, 'home', account.user);
  await mkdir(home, { recursive: true });
  await writeTree(home, files);
  const options: FtpServerOptions = {
    root,
    dataDir: data,
    port: 0,
    loginFailureDelayMs: 0,
    maxLoginFailures: 0,
    ...extra,
  };
  return { server: await createFtpServer(options), home, options };
}
