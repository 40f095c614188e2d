/**
 * The FTP examples fetch files that exist where the text says they run. The client commands' help
 * (`ftp get --help`) fetches the sample file of `netkit lab`: every anonymous
 * `ftp://127.0.0.1:2121/pub/FILE` in it is fetched from our server over the tree `bootstrapLab`
 * makes, served as the lab serves it. `ftp serve --help` and the README's FTP chapters talk to a
 * plain `netkit ftp serve`, whose `pub/` starts empty: the step they document to put a file there
 * (`$ echo … > netkit-data/ftp/pub/FILE`) is run beside a real `ftp serve` (port 0, a temporary
 * directory), and every `pub/FILE` URL they name is fetched from it.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFtpServer, type FtpServerHandle } from '../../src/ftp/server.js';
import { bootstrapLab, ftpRoot, SAMPLE_TEXT } from '../../src/lab/bootstrap.js';
import { netkit, run, startServe, tempDir } from '../helpers/net.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
/** the default ports the examples name, and the implicit-TLS port of `ftp serve --tls-port 9900` */
const PLAIN_PORT = 2121;
const TLS_PORT = 9900;
/** the client commands whose help may name a file */
const CLIENT_COMMANDS = ['ls', 'get', 'put', 'rm', 'mkdir', 'mv', 'mirror', 'shell'];
/** no NETKIT_DATA from the environment: `./netkit-data` in the directory the test runs in */
const env = { NETKIT_DATA: undefined };

/** Anonymous URLs of a file in pub/ (a directory URL ends in `/` and is not one). */
function pubFiles(text: string): Array<{ url: string; port: number; name: string }> {
  return [...text.matchAll(/\bftps?:\/\/127\.0\.0\.1:(\d+)\/pub\/([^\s/'"`|)]+)/g)].map((m) => ({
    url: m[0],
    port: Number(m[1]),
    name: m[2]!,
  }));
}

/** The documented steps that put a file into `ftp serve`'s pub/: `$ echo … > netkit-data/ftp/pub/FILE`. */
function seedSteps(text: string): string[] {
  return [...text.matchAll(/\$ (echo [^\n]*?> netkit-data\/ftp\/pub\/\S+)/g)].map((m) => m[1]!);
}

/** `url` at the port the test's server really uses. */
function at(url: string, from: number, to: number): string {
  return url.replace(`127.0.0.1:${from}/`, `127.0.0.1:${to}/`);
}

const help = async (args: string[]): Promise<string> => {
  const r = await netkit([...args, '--help']);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
};

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-ftp-docs-'));
});
afterAll(async () => {
  await cleanup?.();
});

describe('the client commands fetch the lab sample file', () => {
  let server: FtpServerHandle;
  beforeAll(async () => {
    const data = path.join(dir, 'lab');
    await bootstrapLab(data);
    server = await createFtpServer({ root: ftpRoot(data), dataDir: data, port: 0, anonymousUpload: true });
  });
  afterAll(async () => {
    await server?.close(500);
  });

  it('every pub/FILE in their help is in the lab, and fetches', async () => {
    const urls = (await Promise.all(CLIENT_COMMANDS.map((c) => help(['ftp', c])))).flatMap(pubFiles);
    expect(urls.length).toBeGreaterThan(0);
    for (const { url, port } of urls) {
      expect(port, url).toBe(PLAIN_PORT);
      const r = await netkit(['ftp', 'get', at(url, PLAIN_PORT, server.port), '-o', '-', '--quiet']);
      expect([r.code, r.stderr], url).toEqual([0, '']);
      expect(r.stdout, url).toBe(SAMPLE_TEXT);
    }
  });
});

describe('ftp serve --help and the README talk to a plain ftp serve', () => {
  it('the documented step puts each file they fetch into pub/', async () => {
    const cwd = path.join(dir, 'serve');
    await mkdir(cwd);
    const srv = await startServe(['ftp', 'serve', '--port', '0', '--tls-port', '0'], 2, { cwd, env });
    try {
      const plain = srv.listening.find((l) => !l.tls)!.port;
      const implicit = srv.listening.find((l) => l.tls)!.port;
      const chapters = await Promise.all(
        ['ftp-server.md', 'ftp-client.md'].map((f) => readFile(path.join(ROOT, 'docs/readme', f), 'utf8')),
      );
      const texts = {
        'ftp serve --help': await help(['ftp', 'serve']),
        'README FTP chapters': chapters.join('\n'),
      };
      const pub = path.join(cwd, 'netkit-data/ftp/pub');
      for (const [where, text] of Object.entries(texts)) {
        // each text on its own: pub/ as empty as a fresh `ftp serve` leaves it
        for (const name of await readdir(pub)) await rm(path.join(pub, name), { recursive: true });
        const steps = seedSteps(text);
        expect(steps.length, where).toBeGreaterThan(0);
        for (const step of steps) expect((await run('sh', ['-c', step], { cwd })).code, step).toBe(0);
        const urls = pubFiles(text);
        expect(urls.length, where).toBeGreaterThan(0);
        for (const { url, port, name } of urls) {
          expect([PLAIN_PORT, TLS_PORT], url).toContain(port);
          const real = at(url, port, port === TLS_PORT ? implicit : plain);
          const r = await netkit(['ftp', 'get', real, '-o', '-', '--quiet'], { cwd, env });
          expect([r.code, r.stderr], `${where}: ${url}`).toEqual([0, '']);
          expect(r.stdout).toBe(await readFile(path.join(pub, name), 'utf8'));
        }
      }
    } finally {
      await srv.stop();
    }
  });
});
