/**
 * The CLI's bounds on what a server may list: `--max-listing-size` (one directory listing, default
 * 40M; ls, rm, mirror, shell) and `--max-entries` (a whole tree, default 100,000; mirror, rm -r,
 * the shell's mirror), against a fake server whose directory holds as many entries as a test asks.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netkit, tempDir } from '../helpers/net.js';
import { type FakeFtp, fakeFtp } from './fake-ftp.js';

let base: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpc-limits-'));
});
afterAll(async () => {
  await cleanup?.();
});

/** A server whose every directory lists `n` files of 52 bytes a line (LIST only, no MLSD). */
async function serverListing(n: number): Promise<FakeFtp> {
  const lines = Array.from(
    { length: n },
    (_, i) => `-rw-r--r--   1 u g        5 Jan 01  2024 f${1000 + i}.txt\r\n`,
  );
  return fakeFtp({
    on: {
      LIST: ({ reply, data }) => {
        reply('150 Here comes the directory listing.');
        void data().then((s) => s.end(lines.join(''), () => reply('226 Done')));
      },
    },
  });
}

describe('--max-listing-size and --max-entries: flags', () => {
  it('are in the help of the commands that list, with their defaults', async () => {
    for (const cmd of ['ls', 'rm', 'mirror', 'shell']) {
      const r = await netkit(['ftp', cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        /--max-listing-size <size>\s+refuse a directory listing larger than SIZE.*\(default: 40M\)/s,
      );
      if (cmd === 'ls') expect(r.stdout).not.toMatch(/--max-entries/);
      else
        expect(r.stdout).toMatch(
          /--max-entries <n>\s+refuse a tree of more than N entries.*\(default: 100000\)/s,
        );
    }
    const get = await netkit(['ftp', 'get', '--help']);
    expect(get.stdout).not.toMatch(/--max-listing-size|--max-entries/);
  });

  it.each([
    [['ls', '--max-listing-size', 'lots'], /"lots" is not a size \(e\.g\. 512, 10k, 5M, 1G\)/],
    [['ls', '--max-listing-size', '0'], /"0" must be greater than 0/],
    [['mirror', '--max-listing-size', '-1M'], /"-1M" is not a size/],
    [['mirror', '--max-entries', '0'], /"0" must be greater than 0/],
    [['mirror', '--max-entries', 'many'], /"many" is not an integer/],
    [['rm', '--max-entries', '1.5'], /"1\.5" is not an integer/],
    [['shell', '--max-entries', '-3'], /"-3" must be greater than 0/],
  ])('%j: one line on stderr, exit 2', async ([cmd, ...flags], message) => {
    const operands = cmd === 'mirror' ? ['ftp://127.0.0.1:1/', base] : ['ftp://127.0.0.1:1/'];
    const r = await netkit(['ftp', cmd!, ...operands, ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^netkit: [^\n]+\n$/);
  });
});

describe('--max-listing-size', () => {
  it('ls: a listing larger than SIZE is refused and names the flag; a larger SIZE lets it through', async () => {
    const srv = await serverListing(100);
    try {
      const url = `ftp://127.0.0.1:${srv.port}/pub/`;
      const small = await netkit(['ftp', 'ls', url, '--max-listing-size', '2K']);
      expect(small.code).toBe(1);
      expect(small.stdout).toBe('');
      expect(small.stderr).toBe(
        'netkit: list pub/: the listing is larger than 2.0 KiB, the limit for one directory listing (--max-listing-size)\n',
      );
      const large = await netkit(['ftp', 'ls', url, '--max-listing-size', '8K']);
      expect(large.code, large.stderr).toBe(0);
      expect(large.stdout.split('\n').filter(Boolean)).toHaveLength(100);
    } finally {
      await srv.close();
    }
  });

  it('mirror and the shell take it too', async () => {
    const srv = await serverListing(100);
    try {
      const url = `ftp://127.0.0.1:${srv.port}/pub/`;
      const mirror = await netkit([
        'ftp',
        'mirror',
        url,
        path.join(base, 'm1'),
        '-n',
        '--max-listing-size',
        '2K',
      ]);
      expect(mirror.code).toBe(1);
      expect(mirror.stderr).toMatch(
        /^netkit: list pub: the listing is larger than 2\.0 KiB.*\(--max-listing-size\)\n$/,
      );
      const shell = await netkit(['ftp', 'shell', url, '--max-listing-size', '2K'], {
        input: 'ls\n',
        cwd: base,
      });
      expect(shell.code).toBe(1);
      expect(shell.stderr).toMatch(/^list \.: the listing is larger than 2\.0 KiB.*\(--max-listing-size\)$/m);
    } finally {
      await srv.close();
    }
  });
});

describe('--max-entries', () => {
  it('mirror: a tree of more than N entries is refused before anything is done; N entries pass', async () => {
    const srv = await serverListing(5);
    try {
      const url = `ftp://127.0.0.1:${srv.port}/pub/`;
      const over = await netkit(['ftp', 'mirror', url, path.join(base, 'm2'), '-n', '--max-entries', '4']);
      expect(over.code).toBe(1);
      expect(over.stderr).toBe(
        'netkit: more than 4 entries in the tree, the limit for one tree (--max-entries)\n',
      );
      const fits = await netkit(['ftp', 'mirror', url, path.join(base, 'm2'), '-n', '--max-entries', '5']);
      expect(fits.code, fits.stderr).toBe(0);
      expect(fits.stdout).toMatch(/^would transfer 5 files /m);
    } finally {
      await srv.close();
    }
  });

  it('rm -r: refused before anything is deleted', async () => {
    const srv = await serverListing(5);
    try {
      const r = await netkit(['ftp', 'rm', '-r', `ftp://127.0.0.1:${srv.port}/pub/`, '--max-entries', '4']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        'netkit: more than 4 entries in the tree, the limit for one tree (--max-entries)\n',
      );
      expect(srv.commands.filter((c) => /^(DELE|RMD) /.test(c))).toEqual([]);
    } finally {
      await srv.close();
    }
  });

  it("the shell's mirror obeys it; its ls does not count entries", async () => {
    const srv = await serverListing(5);
    try {
      const r = await netkit(['ftp', 'shell', `ftp://127.0.0.1:${srv.port}/`, '--max-entries', '4'], {
        input: 'ls\nmirror -n . copy\n',
        cwd: base,
      });
      expect(r.code).toBe(1);
      expect(r.stdout.split('\n').filter((l) => /^f\d+\.txt$/.test(l))).toHaveLength(5);
      expect(r.stderr).toMatch(
        /^more than 4 entries in the tree, the limit for one tree \(--max-entries\)$/m,
      );
    } finally {
      await srv.close();
    }
  });
});
