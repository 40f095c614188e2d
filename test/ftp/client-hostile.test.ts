/**
 * Bad input for the FTP client: a tiny fake FTP server whose listings (MLSD, or LIST when it
 * does not offer MLST) carry hostile names — `../../evil`, an absolute path, `a\b`, control
 * characters, NUL — and whose RETR hands out content for anything asked. A mirror must write
 * only the honest entries, inside the target directory, and warn about the rest.
 */

import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FtpClient } from '../../src/ftp/client.js';
import { mirrorDown } from '../../src/ftp/client-mirror.js';
import { netkit, tempDir } from '../helpers/net.js';

type Listing = Record<string, Array<{ name: string; dir?: boolean; size?: number }>>;

/** A minimal passive-mode FTP server: enough of RFC 959/3659 for basic-ftp, nothing more. */
async function fakeFtpServer(
  listing: Listing,
  opts: { mlsd: boolean },
): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((ctl) => {
    sockets.add(ctl);
    ctl.on('close', () => sockets.delete(ctl));
    ctl.on('error', () => {});
    let data: Promise<net.Socket> | undefined;
    const reply = (s: string) => ctl.write(`${s}\r\n`);
    const body = (p: string) => `content of ${p}\n`;
    const sendData = async (payload: string, done: string) => {
      reply('150 Here it comes');
      const sock = await data!;
      data = undefined;
      sock.end(payload, () => reply(done));
    };
    const line = (e: { name: string; dir?: boolean; size?: number }) =>
      opts.mlsd
        ? `type=${e.dir ? 'dir' : 'file'};size=${e.size ?? 5};modify=20240101000000; ${e.name}\r\n`
        : `${e.dir ? 'd' : '-'}rw-r--r--   1 u g ${String(e.size ?? 5).padStart(8)} Jan 01  2024 ${e.name}\r\n`;
    reply('220 fake ready');
    let buf = '';
    ctl.on('data', (d) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\r\n'); i !== -1; i = buf.indexOf('\r\n')) {
        const cmdline = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const sp = cmdline.indexOf(' ');
        const verb = (sp === -1 ? cmdline : cmdline.slice(0, sp)).toUpperCase();
        const arg = sp === -1 ? '' : cmdline.slice(sp + 1);
        const dirArg = `/${arg.replace(/^-a\s*/, '').replace(/^\/+|\/+$/g, '')}`;
        switch (verb) {
          case 'USER':
            reply('331 Password please');
            break;
          case 'PASS':
            reply('230 Logged in');
            break;
          case 'FEAT':
            reply(
              opts.mlsd
                ? '211-Features:\r\n MLST type*;size*;modify*;\r\n SIZE\r\n211 End'
                : '211-Features:\r\n SIZE\r\n211 End',
            );
            break;
          case 'PWD':
            reply('257 "/" is the current directory');
            break;
          case 'EPSV': {
            const l = net.createServer();
            data = new Promise((resolve) => {
              l.once('connection', (s) => {
                s.on('error', () => {});
                l.close();
                resolve(s);
              });
            });
            l.listen(0, '127.0.0.1', () =>
              reply(`229 Entering Extended Passive Mode (|||${(l.address() as net.AddressInfo).port}|)`),
            );
            break;
          }
          case 'MLSD':
          case 'LIST': {
            const entries = listing[dirArg];
            if (!entries) reply('550 No such directory');
            else void sendData(entries.map(line).join(''), '226 Done');
            break;
          }
          case 'SIZE':
            reply(`213 ${Buffer.byteLength(body(arg))}`);
            break;
          case 'RETR':
            void sendData(body(arg), '226 Done');
            break;
          case 'QUIT':
            reply('221 Bye');
            ctl.end();
            break;
          case 'TYPE':
          case 'OPTS':
          case 'STRU':
          case 'CWD':
            reply('200 OK');
            break;
          default:
            reply('502 Not implemented');
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

let base: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpc-hostile-'));
});
afterAll(async () => {
  await cleanup?.();
});

/** Every path under base, relative. */
async function everything(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(base, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out.sort();
}

const hostile = (absDir: string): Listing => ({
  '/': [
    { name: '../../evil' },
    { name: `${absDir}/abs` },
    { name: 'a\\b' },
    { name: '..\\..\\win' },
    { name: 'esc\u001b]0;pwned\u0007\u001b[2J' },
    { name: 'nul\u0000byte' },
    { name: '..', dir: true },
    { name: 'ok.txt' },
    { name: 'sub', dir: true },
  ],
  '/sub': [{ name: '../escape' }, { name: 'fine.txt' }, { name: '..', dir: true }],
});

describe.each([
  ['MLSD', true],
  ['LIST', false],
])('hostile %s listing', (label, mlsd) => {
  it('mirror writes only the honest files, inside the target, and warns about the rest', async () => {
    const target = path.join(base, label, 'a', 'b', 'target');
    const srv = await fakeFtpServer(hostile(path.join(base, label, 'outside')), { mlsd });
    const warnings: string[] = [];
    const client = await FtpClient.connect({ host: '127.0.0.1', port: srv.port, user: 'x', password: 'y' });
    try {
      const r = await mirrorDown(client, '', target, { onWarning: (m) => warnings.push(m) });
      expect(r.summary).toMatchObject({ transfers: 2, mkdirs: 1 });
    } finally {
      client.close();
      srv.close();
    }
    expect((await everything()).filter((p) => p.startsWith(`${label}/`))).toEqual([
      `${label}/a`,
      `${label}/a/b`,
      `${label}/a/b/target`,
      `${label}/a/b/target/ok.txt`,
      `${label}/a/b/target/sub`,
      `${label}/a/b/target/sub/fine.txt`,
    ]);
    expect(await readFile(path.join(target, 'sub/fine.txt'), 'utf8')).toBe('content of sub/fine.txt\n');
    // basic-ftp's MLSD parser already drops names with "/" (RFC 3659 listings hold plain names);
    // from LIST they reach our check
    const all = warnings.join('\n');
    expect(all).toMatch(/a\\b: name contains "\\"/);
    expect(all).toMatch(/"esc\\x1b\]0;pwned\\x07\\x1b\[2J": name contains control characters/);
    expect(all).toMatch(/"nul\\x00byte"/);
    if (!mlsd) {
      expect(all).toMatch(/skipped remote \.\.\/\.\.\/evil: name contains "\/"/);
      expect(all).toMatch(/skipped remote sub\/\.\.\/escape/);
    }
    expect(warnings.join('\n')).not.toMatch(/[\u0000\u0007\u001b]/);
  });
});

it('the CLI warns on stderr with escaped names and never prints raw control characters', async () => {
  const srv = await fakeFtpServer(hostile(path.join(base, 'cli-outside')), { mlsd: true });
  try {
    const target = path.join(base, 'cli', 'target');
    const r = await netkit(['ftp', 'mirror', `ftp://127.0.0.1:${srv.port}/`, target]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^netkit: warning: skipped remote a\\b: name contains "\\"$/m);
    expect(r.stderr).toContain('\\x1b');
    expect(r.stdout + r.stderr).not.toMatch(/[\u0000\u0007\u001b]/);
    expect(r.stdout).toMatch(/downloaded 2 files .*warnings/);
    const ls = await netkit(['ftp', 'ls', `ftp://127.0.0.1:${srv.port}/`]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).not.toMatch(/[\u0000\u0007\u001b]/);
    expect(ls.stdout).toContain('"esc\\x1b]0;pwned\\x07\\x1b[2J"');
    // a URL whose last segment cannot name a local file
    const get = await netkit(['ftp', 'get', `ftp://127.0.0.1:${srv.port}/sub/..`], { cwd: base });
    expect(get.code).toBe(1);
    expect(get.stderr).toMatch(/cannot name the local file after \.\..*use -o FILE/);
  } finally {
    srv.close();
  }
  expect((await everything()).filter((p) => p.startsWith('cli'))).toEqual([
    'cli',
    'cli/target',
    'cli/target/ok.txt',
    'cli/target/sub',
    'cli/target/sub/fine.txt',
  ]);
});
