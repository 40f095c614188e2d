/**
 * The development certificate made by several servers at once on a fresh data directory (`netkit
 * pop3 serve & netkit smtp serve &`): every process must end up with the one pair on disk, whole
 * and matching, or clients that trust `DATA/tls/dev-cert.pem` fail against the others. The child
 * processes load the built module and prepare everything (selfsigned loaded, a key generated once)
 * before they report ready; then all are told to go at the same moment, so that without the lock
 * each one finds no certificate and generates its own, on every run.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateDevCertificate, loadTls } from '../../src/core/tls.js';
import { ROOT, tempDir } from '../helpers/net.js';

const MODULE = path.join(ROOT, 'dist/core/tls.js');
const CHILDREN = 5;

/** Fingerprints a child prints: of the certificate, and of the public half of the key. */
interface Prints {
  cert: string;
  key: string;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

function prints(cert: string, key: string): Prints {
  return {
    cert: sha256(new X509Certificate(cert).raw),
    key: sha256(createPublicKey(key).export({ type: 'spki', format: 'der' })),
  };
}

const CHILD_SCRIPT = `
  const { createHash, createPublicKey, X509Certificate } = await import('node:crypto');
  const { generateDevCertificate, loadTls } = await import(${JSON.stringify(MODULE)});
  const sha256 = (data) => createHash('sha256').update(data).digest('hex');
  await generateDevCertificate(); // warm up, so that the loads below start together
  process.stdout.write('ready\\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.destroy();
  const { cert, key } = await loadTls(process.argv[1]);
  const prints = {
    cert: sha256(new X509Certificate(cert).raw),
    key: sha256(createPublicKey(key).export({ type: 'spki', format: 'der' })),
  };
  process.stdout.write(JSON.stringify(prints) + '\\n');
`;

/** A child that loads the dev certificate from `dataDir` once `go()` is called. */
function startChild(dataDir: string): { ready: Promise<void>; go: () => void; result: Promise<Prints> } {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--input-type=module', '-e', CHILD_SCRIPT, dataDir],
    { cwd: ROOT },
  );
  let stdout = '';
  let stderr = '';
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    if (stdout.startsWith('ready\n')) onReady();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  const result = new Promise<Prints>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n')[1];
      if (code !== 0 || !line) reject(new Error(`child exited ${code}: ${stderr}`));
      else resolve(JSON.parse(line) as Prints);
    });
  });
  // a child that dies before it is ready must not leave the test waiting for it
  return { ready: Promise.race([ready, result.then(() => {})]), go: () => child.stdin.end('go\n'), result };
}

/** The pair on disk: its fingerprints, after checking that it is whole and the key is private. */
async function pairOnDisk(dataDir: string): Promise<Prints> {
  const tlsDir = path.join(dataDir, 'tls');
  const cert = await readFile(path.join(tlsDir, 'dev-cert.pem'), 'utf8');
  const key = await readFile(path.join(tlsDir, 'dev-key.pem'), 'utf8');
  expect(new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))).toBe(true);
  expect((await stat(path.join(tlsDir, 'dev-key.pem'))).mode & 0o777).toBe(0o600);
  // no lock, claim or temporary file left behind
  expect((await readdir(tlsDir)).sort()).toEqual(['dev-cert.pem', 'dev-key.pem']);
  return prints(cert, key);
}

/** The pid of a process that has exited: a lock naming it was left by a crashed creator. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('netkit-dev-cert-'));
});
afterEach(async () => {
  await cleanup();
});

describe('the development certificate created by several processes at once', () => {
  it.each([
    ['a fresh data directory', async () => {}],
    [
      // a creator of an older version killed between its two writes
      'a data directory holding only dev-key.pem',
      async (tlsDir: string) => {
        await writeFile(path.join(tlsDir, 'dev-key.pem'), (await generateDevCertificate()).key, {
          mode: 0o600,
        });
      },
    ],
    [
      'a data directory holding only dev-cert.pem',
      async (tlsDir: string) => {
        await writeFile(path.join(tlsDir, 'dev-cert.pem'), (await generateDevCertificate()).cert);
      },
    ],
    [
      'a lock left by a creator that crashed',
      async (tlsDir: string) => {
        await writeFile(path.join(tlsDir, 'dev-cert.pem.lock'), `${await deadPid()} ${hostname()} crashed\n`);
        await writeFile(path.join(tlsDir, '.dev-key.pem.1.crashed.tmp'), 'half a key');
      },
    ],
  ])('gives each one the same whole pair, the one on disk, from %s', async (_name, setup) => {
    const data = path.join(dir, 'data');
    await mkdir(path.join(data, 'tls'), { recursive: true, mode: 0o700 });
    await setup(path.join(data, 'tls'));
    const children = Array.from({ length: CHILDREN }, () => startChild(data));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const got = await Promise.all(children.map((c) => c.result));
    const disk = await pairOnDisk(data);
    expect(got).toEqual(Array.from({ length: CHILDREN }, () => disk));
  });

  it('gives concurrent loads in one process the same pair (different spellings of the directory)', async () => {
    const data = path.join(dir, 'data');
    // each spelling is its own entry in loadTls's cache, so each one loads from disk
    const spellings = [data, `${data}/`, `${data}/.`, `${data}//`, `${data}/./`];
    const loaded = await Promise.all(spellings.map((d) => loadTls(d)));
    const disk = await pairOnDisk(data);
    expect(loaded.map((m) => prints(m.cert, m.key))).toEqual(spellings.map(() => disk));
  });
});
