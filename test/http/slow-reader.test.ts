/**
 * `netkit http get` reading a body slower than it arrives (`--limit-rate`) while the server closes
 * the connection once it has sent everything: our file server's idle keep-alive timeout, Python's
 * `http.server` closing after each response. undici used to fail the first with "closed
 * unexpectedly" after every byte had arrived, and crash on the second with an AssertionError
 * (src/http/paused-end.ts). The same through a proxy (tinyproxy closes each connection after
 * its response) and on the direct path of a proxied client (`--noproxy`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { netkit, tempDir } from '../helpers/net.js';
import { startTinyproxy, type TinyproxyHandle } from '../helpers/tinyproxy.js';

let dir: string;
let cleanup: () => Promise<void>;
let data: Buffer;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-slow-reader-'));
  data = randomBytes(256 * 1024);
  await writeFile(path.join(dir, 'big.bin'), data);
});
afterAll(async () => {
  await cleanup();
});

async function getSlowly(url: string, name: string, extra: string[] = []): Promise<void> {
  const out = path.join(dir, name);
  const r = await netkit(['http', 'get', '--limit-rate', '100K', ...extra, '-o', out, url]);
  expect(r.code, r.stderr).toBe(0);
  // stderr is a pipe, and --limit-rate makes the transfer last past the two-second interval: plain
  // progress lines, the last one for the whole body
  const lines = r.stderr.trimEnd().split('\n');
  const figures = '[\\d.]+ \\w+/[\\d.]+ \\w+ [\\d.]+ \\w+/s ETA \\d+:\\d\\d';
  for (const line of lines) expect(line).toMatch(new RegExp(`^${name} \\d+% ${figures}$`));
  expect(lines.at(-1)).toMatch(new RegExp(`^${name} 100% 256\\.0 KiB/256\\.0 KiB `));
  expect((await readFile(out)).equals(data)).toBe(true);
}

describe('a slow reader and a server that closes when it is done', () => {
  let server: FileServerHandle;
  let py: ChildProcess | undefined;
  let pyPort: number;
  let proxy: TinyproxyHandle | undefined;
  afterAll(async () => {
    await server?.close();
    py?.kill();
    await proxy?.stop();
  });

  it('our file server, whose keep-alive timeout passes while the client is still reading', async () => {
    // 256 KiB at 100 KiB/s: 2.5 s of reading; the server is done after a few ms and closes 50 ms later
    server = await createFileServer({ root: dir, port: 0, keepAliveTimeoutMs: 50 });
    await getSlowly(`http://127.0.0.1:${server.port}/big.bin`, 'keep-alive.bin');
  });

  it("Python's http.server, which closes after the response", async () => {
    const child = spawn('/usr/bin/python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '0'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    py = child;
    const port = await new Promise<number>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const m = /port (\d+)/.exec(buf);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`http.server exited ${code}`)));
    });
    pyPort = port;
    await getSlowly(`http://127.0.0.1:${port}/big.bin`, 'close.bin');
  });

  it('through a proxy that closes after each response (tinyproxy), and past it with --noproxy', async () => {
    proxy = await startTinyproxy(dir);
    const url = `http://127.0.0.1:${pyPort}/big.bin`;
    await getSlowly(url, 'proxied.bin', ['-x', proxy.url]);
    expect(proxy.log()).toContain('big.bin');
    await getSlowly(url, 'bypassed.bin', ['-x', proxy.url, '--noproxy', '127.0.0.1']);
  });
});
