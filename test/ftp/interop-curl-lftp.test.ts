/**
 * Interop: curl (list, download, upload, resume, active mode, explicit TLS with --ssl-reqd) and
 * lftp (mirror a tree of a few hundred files down and up, plain and over TLS, names with `%XX`
 * included; checksums equal) against our server; `nc -N` for a client that pipelines its commands and half-closes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, tempDir } from '../helpers/net.js';
import { type Fixture, PASSWORDS, startFixture } from './fixture.js';

let fx: Fixture;
let local: { dir: string; cleanup: () => Promise<void> };
const url = (p: string) => `ftp://127.0.0.1:${fx.port}${p}`;
const auth = `alice:${PASSWORDS.alice}`;

beforeAll(async () => {
  fx = await startFixture();
  local = await tempDir('netkit-ftp-local-');
});
afterAll(async () => {
  await fx.cleanup();
  await local.cleanup();
});

async function curl(args: string[]) {
  return run('curl', ['-sS', '--max-time', '20', ...args]);
}

/** relative path → sha256 of every file under dir */
async function checksums(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else
        out[path.relative(dir, full)] = createHash('sha256')
          .update(await readFile(full))
          .digest('hex');
    }
  };
  await walk(dir);
  return out;
}

/** A tree of `count` files in nested directories, some names with spaces, UTF-8 and `%XX`. */
async function makeTree(dir: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const sub = path.join(dir, `dir ${i % 5}`, i % 3 === 0 ? 'deeper' : '');
    await mkdir(sub, { recursive: true });
    const name = i % 7 === 0 ? `fïlé ${i}.bin` : i % 11 === 0 ? `sale 100%ff ${i}.bin` : `file-${i}.bin`;
    await writeFile(path.join(sub, name), randomBytes((i * 997) % 20_000));
  }
}

describe('nc against netkit ftp serve', () => {
  it('a client that pipelines and half-closes (nc -N) gets every reply, the slow ones too', async () => {
    // PASS is answered asynchronously (scrypt, the failure delay): those replies come after the
    // client's FIN, and must still be sent before the server closes its side.
    const script = [
      'USER alice',
      'PASS wrong',
      'USER alice',
      `PASS ${PASSWORDS.alice}`,
      'PWD',
      'QUIT',
      '',
    ].join('\r\n');
    const r = await run('nc', ['-N', '127.0.0.1', String(fx.port)], { input: script });
    const codes = r.stdout
      .split('\r\n')
      .filter((l) => /^\d{3} /.test(l))
      .map((l) => l.slice(0, 3));
    expect(codes).toEqual(['220', '331', '530', '331', '230', '257', '221']);
  });
});

describe('curl against netkit ftp serve', () => {
  it('lists, downloads and uploads anonymously and as a real user', async () => {
    const list = await curl([url('/')]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/ incoming\r?\n/);
    expect(list.stdout).toMatch(/ pub\r?\n/);
    const names = await curl(['-l', url('/pub/')]);
    expect(names.stdout.split(/\r?\n/).filter(Boolean).sort()).toEqual(['docs', 'readme.txt']);
    const readme = await curl([url('/pub/readme.txt')]);
    expect(readme.stdout).toBe('line one\nline two\n');

    const payload = randomBytes(700_000);
    const src = path.join(local.dir, 'curl-up.bin');
    await writeFile(src, payload);
    const up = await curl(['-u', auth, '--ftp-create-dirs', '-T', src, url('/curl/dir/')]);
    expect(up.code).toBe(0);
    expect((await readFile(path.join(fx.root, 'home/alice/curl/dir/curl-up.bin'))).equals(payload)).toBe(
      true,
    );
    const down = await curl(['-u', auth, url('/curl/dir/curl-up.bin')]);
    expect(down.stdoutBuf.equals(payload)).toBe(true);
  });

  it('resumes an upload (-C - → APPE) and a download (-C - → REST)', async () => {
    const payload = randomBytes(400_000);
    const src = path.join(local.dir, 'resume.bin');
    await writeFile(src, payload);
    await writeFile(path.join(fx.root, 'home/alice/resume.bin'), payload.subarray(0, 150_000));
    const up = await curl(['-u', auth, '-C', '-', '-T', src, url('/resume.bin')]);
    expect(up.code).toBe(0);
    expect((await readFile(path.join(fx.root, 'home/alice/resume.bin'))).equals(payload)).toBe(true);

    const partial = path.join(local.dir, 'partial.bin');
    await writeFile(partial, payload.subarray(0, 99_999));
    const down = await curl(['-u', auth, '-C', '-', '-o', partial, url('/resume.bin')]);
    expect(down.code).toBe(0);
    expect((await readFile(partial)).equals(payload)).toBe(true);
  });

  it('uses active mode (-P) through the bounce check', async () => {
    const r = await curl([
      '-u',
      auth,
      '-P',
      '127.0.0.1',
      url('/resume.bin'),
      '-o',
      path.join(local.dir, 'active.bin'),
    ]);
    expect(r.code).toBe(0);
    expect((await readFile(path.join(local.dir, 'active.bin'))).length).toBe(400_000);
  });

  it('with --ssl-reqd -k: lists, uploads and downloads over TLS', async () => {
    const payload = randomBytes(250_000);
    const src = path.join(local.dir, 'tls-up.bin');
    await writeFile(src, payload);
    const up = await curl(['--ssl-reqd', '-k', '-u', auth, '-T', src, url('/')]);
    expect(up.code).toBe(0);
    const list = await curl(['--ssl-reqd', '-k', '-u', auth, url('/')]);
    expect(list.stdout).toMatch(/tls-up\.bin/);
    const down = await curl(['--ssl-reqd', '-k', '-u', auth, url('/tls-up.bin')]);
    expect(down.stdoutBuf.equals(payload)).toBe(true);
    const anon = await curl(['--ssl-reqd', '-k', url('/pub/readme.txt')]);
    expect(anon.stdout).toBe('line one\nline two\n');
  });

  it('gets the permission refusals as curl errors', async () => {
    const src = path.join(local.dir, 'small.txt');
    await writeFile(src, 'small');
    // anonymous upload into pub/: 532 → curl "upload failed" (25)
    const pub = await curl(['-T', src, url('/pub/')]);
    expect(pub.code).toBe(25);
    expect(pub.stderr).toMatch(/532/);
    // the drop box takes a new file once, never an overwrite (553)
    expect((await curl(['-T', src, url('/incoming/')])).code).toBe(0);
    const again = await curl(['-T', src, url('/incoming/')]);
    expect(again.code).toBe(25);
    expect(again.stderr).toMatch(/553/);
    // and cannot be listed or read (550)
    expect((await curl([url('/incoming/')])).code).toBe(19);
    expect((await curl([url('/incoming/small.txt')])).code).toBe(78);
    // a traversal attempt is 550 too
    const traversal = await curl(['-u', auth, '--path-as-is', url('/../../canary.txt')]);
    expect(traversal.code).toBe(9);
    expect(traversal.stdout).toBe('');
  });
});

describe('lftp against netkit ftp serve', () => {
  it('mirrors a tree of 300 files up (mirror -R) and down: checksums equal', async () => {
    const tree = path.join(local.dir, 'tree');
    const back = path.join(local.dir, 'back');
    await makeTree(tree, 300);
    const r = await run(
      'lftp',
      [
        '-u',
        auth,
        '-e',
        `set ftp:ssl-allow no; set net:max-retries 3; set net:reconnect-interval-base 1; mirror -R --no-perms "${tree}" /mirrored; mirror /mirrored "${back}"; quit`,
        url(''),
      ],
      { timeoutMs: 25_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const expected = await checksums(tree);
    expect(Object.keys(expected).length).toBe(300);
    expect(await checksums(path.join(fx.root, 'home/alice/mirrored'))).toEqual(expected);
    expect(await checksums(back)).toEqual(expected);
  });

  it('mirrors over TLS (ftp:ssl-force, protected data): checksums equal', async () => {
    const tree = path.join(local.dir, 'tls-tree');
    const back = path.join(local.dir, 'tls-back');
    await makeTree(tree, 24);
    const r = await run(
      'lftp',
      [
        '-u',
        auth,
        '-e',
        [
          'set ftp:ssl-force yes',
          'set ftp:ssl-protect-data yes',
          'set ssl:verify-certificate no',
          `set ssl:ca-file "${path.join(fx.data, 'tls/dev-cert.pem')}"`,
          'set net:max-retries 3',
          'set net:reconnect-interval-base 1',
          `mirror -R --no-perms "${tree}" /tls-mirrored`,
          `mirror /tls-mirrored "${back}"`,
          'quit',
        ].join('; '),
        url(''),
      ],
      { timeoutMs: 25_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    const expected = await checksums(tree);
    expect(await checksums(back)).toEqual(expected);
  });
});
