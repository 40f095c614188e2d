/**
 * `ftp get --continue` (and the shell's `reget`) against fake servers that fail the resumed transfer
 * before a single new byte arrives: REST refused, no data connection, the control connection
 * closed (at REST's RETR, or already at SIZE), a silent data connection until the timeout, a data
 * connection reset. Each must say that FILE.part is kept, how big it is and whether --continue
 * can go on from it — as a failure after some new bytes does — and leave the part byte-identical.
 * The shell names `reget` instead, and `ftp mirror`, which has no --continue, what a mirror run
 * again does with the part file (or with the short copy a mirror upload left on the server).
 */
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netkit, tempDir } from '../helpers/net.js';
import { pattern } from './client-helpers.js';
import { type FakeFtpOptions, fakeFtp } from './fake-ftp.js';

let base: string;
let cleanup: () => Promise<void>;
/** a port nothing listens on: a passive reply that leads nowhere */
let deadPort: number;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpc-resume-'));
  const l = net.createServer();
  await new Promise<void>((r) => l.listen(0, '127.0.0.1', () => r()));
  deadPort = (l.address() as net.AddressInfo).port;
  await new Promise((r) => l.close(r));
});
afterAll(async () => {
  await cleanup?.();
});

const body = pattern(100_000, 61);
const earlier = body.subarray(0, 40_000);
/** `s` as a regular expression that matches it literally */
const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** REST accepted, then RETR answered by `retr` */
const restThen = (retr: NonNullable<FakeFtpOptions['on']>[string]): FakeFtpOptions['on'] => ({
  REST: ({ reply }) => reply('350 Restarting'),
  RETR: retr,
});

describe('ftp get --continue failing before any new byte', () => {
  it.each<[string, FakeFtpOptions['on'], string, string]>([
    [
      'REST refused',
      undefined,
      'get f\\.bin: 502 Not implemented',
      'but the server refused REST, so --continue cannot resume it',
    ],
    [
      'the control connection closed after REST',
      restThen(({ ctl }) => ctl.destroy()),
      'get f\\.bin: .+',
      'resume with --continue',
    ],
    [
      'the data connection reset',
      restThen(({ reply, data }) => {
        reply('150 Opening BINARY mode data connection.');
        void data().then((s) => s.resetAndDestroy());
      }),
      'get f\\.bin: .+',
      'resume with --continue',
    ],
    [
      'no data connection at all',
      {
        EPSV: ({ reply }) => reply(`229 Entering Extended Passive Mode (|||${deadPort}|)`),
        PASV: ({ reply }) =>
          reply(`227 Entering Passive Mode (127,0,0,1,${deadPort >> 8},${deadPort & 255}).`),
      },
      'get f\\.bin: no passive data connection .+',
      'resume with --continue',
    ],
    [
      'a silent data connection (timeout)',
      restThen(({ reply }) => reply('150 Opening BINARY mode data connection.')),
      'get f\\.bin: Timeout \\(data socket\\)',
      'resume with --continue',
    ],
  ])(
    '%s: says FILE.part is kept, its size, and whether --continue resumes; the part is untouched',
    async (name, on, reason, next) => {
      const srv = await fakeFtp({ files: { 'f.bin': body }, ...(on ? { on } : {}) });
      try {
        const out = path.join(base, `${name.replace(/\W+/g, '-')}.bin`);
        await writeFile(`${out}.part`, earlier);
        const r = await netkit([
          'ftp',
          'get',
          `ftp://127.0.0.1:${srv.port}/f.bin`,
          '-o',
          out,
          '--continue',
          '--quiet',
          '--timeout',
          '1s',
        ]);
        expect(r.code).toBe(1);
        const kept = `; ${out}.part kept (40000 of 100000 bytes), ${next}`;
        expect(r.stderr).toMatch(new RegExp(`^netkit: ${reason}${literal(kept)}\\n$`));
        expect((await readFile(`${out}.part`)).equals(earlier)).toBe(true);
        await expect(stat(out)).rejects.toThrow();
      } finally {
        await srv.close();
      }
    },
  );

  it('the control connection closed at SIZE: the part is kept too, its size without a total', async () => {
    const srv = await fakeFtp({ files: { 'f.bin': body }, on: { SIZE: ({ ctl }) => ctl.destroy() } });
    try {
      const out = path.join(base, 'closed-at-size.bin');
      await writeFile(`${out}.part`, earlier);
      const r = await netkit(['ftp', 'get', `ftp://127.0.0.1:${srv.port}/f.bin`, '-o', out, '--continue']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^netkit: SIZE: .+; ${literal(out)}\\.part kept \\(40000 bytes\\), resume with --continue\\n$`,
        ),
      );
      expect((await readFile(`${out}.part`)).equals(earlier)).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('a shorter FILE continued in place (wget -c) is kept as FILE.part, and the message says so', async () => {
    const srv = await fakeFtp({ files: { 'f.bin': body } });
    try {
      const out = path.join(base, 'shorter.bin');
      await writeFile(out, earlier);
      const r = await netkit(['ftp', 'get', `ftp://127.0.0.1:${srv.port}/f.bin`, '-o', out, '--continue']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `netkit: get f.bin: 502 Not implemented; ${out}.part kept (40000 of 100000 bytes), but the server refused REST, so --continue cannot resume it\n`,
      );
      expect((await readFile(`${out}.part`)).equals(earlier)).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('the shell names its own command: "reget" instead of --continue', async () => {
    const refusing = await fakeFtp({ files: { 'f.bin': body } });
    const closing = await fakeFtp({ files: { 'f.bin': body }, on: restThen(({ ctl }) => ctl.destroy()) });
    try {
      for (const [srv, next] of [
        [refusing, 'but the server refused REST, so "reget f.bin" cannot resume it'],
        [closing, 'resume with "reget f.bin"'],
      ] as const) {
        await writeFile(path.join(base, 'f.bin.part'), earlier);
        const r = await netkit(['ftp', 'shell', `ftp://127.0.0.1:${srv.port}/`, '--timeout', '1s'], {
          input: 'reget f.bin\n',
          cwd: base,
        });
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(
          new RegExp(
            `^get f\\.bin: .+; \\S*f\\.bin\\.part kept \\(40000 of 100000 bytes\\), ${literal(next)}$`,
            'm',
          ),
        );
        expect((await readFile(path.join(base, 'f.bin.part'))).equals(earlier)).toBe(true);
      }
    } finally {
      await refusing.close();
      await closing.close();
    }
  });
});

/** A LIST of the fake server's root that names `name` with `size` bytes (the fake's own lists x.txt). */
const listing =
  (name: string, size: number): NonNullable<FakeFtpOptions['on']>[string] =>
  ({ reply, data }) => {
    reply('150 Here comes the directory listing.');
    void data().then((s) =>
      s.end(`-rw-r--r--   1 u g ${String(size).padStart(8)} Jan 01  2024 ${name}\r\n`, () =>
        reply('226 Done'),
      ),
    );
  };

describe('ftp mirror names no --continue: it has none, it resumes when run again', () => {
  it('a download cut off: "run the mirror again to resume"; the next run, REST refused: remove the part', async () => {
    const srv = await fakeFtp({
      files: { 'f.bin': body },
      cut: { name: 'f.bin', cutAt: 40_000 },
      on: { LIST: listing('f.bin', body.length) },
    });
    try {
      const dir = path.join(base, 'mirror-cut');
      const part = path.join(dir, 'f.bin.part');
      const mirror = () =>
        netkit(['ftp', 'mirror', `ftp://127.0.0.1:${srv.port}/`, dir, '--quiet', '--timeout', '5s']);
      const first = await mirror();
      expect(first.code).toBe(1);
      expect(first.stderr).toMatch(
        new RegExp(
          `^netkit: get f\\.bin: .+; ${literal(part)} kept \\(40000 of 100000 bytes\\), run the mirror again to resume\\n$`,
        ),
      );
      expect((await readFile(part)).equals(earlier)).toBe(true);
      // run again, it resumes the part (REST 40000) — which this server refuses
      const second = await mirror();
      expect(second.code).toBe(1);
      expect(second.stderr).toBe(
        `netkit: get f.bin: 502 Not implemented; ${part} kept (40000 of 100000 bytes), but the server refused REST: remove it, and a mirror run again starts the file over\n`,
      );
      expect(srv.commands).toContain('REST 40000');
      expect((await readFile(part)).equals(earlier)).toBe(true);
    } finally {
      await srv.close();
    }
  });

  it('without a file time the part cannot be checked: the message says a run again starts over', async () => {
    const srv = await fakeFtp({
      files: { 'f.bin': body },
      cut: { name: 'f.bin', cutAt: 40_000 },
      on: {
        LIST: listing('f.bin', body.length),
        MDTM: ({ reply }) => reply('550 Could not get file modification time.'),
      },
    });
    try {
      const dir = path.join(base, 'mirror-untimed');
      const r = await netkit(['ftp', 'mirror', `ftp://127.0.0.1:${srv.port}/`, dir, '--quiet']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `; ${literal(path.join(dir, 'f.bin.part'))} kept \\(40000 of 100000 bytes\\), but the server gives no time for the file, so a mirror run again starts it over\\n$`,
        ),
      );
    } finally {
      await srv.close();
    }
  });

  it('mirror --reverse: a short copy on the server says to run the mirror again (without --only-newer)', async () => {
    const srv = await fakeFtp({
      on: {
        LIST: ({ reply, data }) => {
          reply('150 Here comes the directory listing.');
          void data().then((s) => s.end('', () => reply('226 Done')));
        },
        STOR: ({ reply, data }) => {
          reply('150 Ok to send data.');
          void data().then((s) => {
            s.resume();
            s.once('end', () => {
              s.end();
              reply('226 Transfer complete.');
            });
          });
        },
        // the server kept 5 bytes of the 100000 sent
        SIZE: ({ reply }) => reply('213 5'),
      },
    });
    try {
      const dir = path.join(base, 'mirror-up');
      await mkdir(dir);
      await writeFile(path.join(dir, 'f.bin'), body);
      for (const [flags, again] of [
        [[], 'run the mirror again to upload it again'],
        [['--only-newer'], 'run the mirror again without --only-newer to upload it again'],
      ] as const) {
        const r = await netkit([
          'ftp',
          'mirror',
          '--reverse',
          dir,
          `ftp://127.0.0.1:${srv.port}/up/`,
          ...flags,
          '--quiet',
        ]);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(`netkit: put up/f.bin: the server has 5 of 100000 bytes; ${again}\n`);
      }
    } finally {
      await srv.close();
    }
  });
});
