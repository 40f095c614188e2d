/**
 * Upload progress of a streamed request body: the library reports the bytes handed to the
 * connection (`onUploadProgress`), again from 0 when a 307 sends the body again; the CLI draws
 * them as a bar on a terminal for `--data-file` and `-F name=@FILE`, and nothing with `-s`.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest } from '../../src/http/request.js';
import { CLI, have, netkit, run, tempDir } from '../helpers/net.js';

const SIZE = 3 * 1024 * 1024 + 17;
let dir: string;
let cleanup: () => Promise<void>;
let file: string;
let server: http.Server;
let origin: string;
/** bytes of each request body the server received, in order */
const received: number[] = [];

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  file = path.join(dir, 'big.bin');
  await writeFile(file, randomBytes(SIZE));
  server = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => {
      n += d.length;
    });
    req.on('end', () => {
      received.push(n);
      if (req.url === '/moved') res.writeHead(307, { Location: '/put' }).end();
      else res.end(`got ${n}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await cleanup();
});

describe('upload progress', () => {
  it('reports a streamed body as it goes, rising to its length, again from 0 after a 307', async () => {
    const reports: Array<[number, number]> = [];
    const res = await httpRequest({
      url: `${origin}/moved`,
      method: 'PUT',
      bodyFile: file,
      followRedirects: true,
      onUploadProgress: (sent, total) => reports.push([sent, total]),
    });
    expect(res.body.toString()).toBe(`got ${SIZE}\n`);
    expect(reports.every(([, total]) => total === SIZE)).toBe(true);
    const restarts = reports.filter(([sent], i) => i > 0 && sent < reports[i - 1]![0]).length;
    expect(restarts).toBe(1); // the 307 sent it again
    expect(reports.filter(([sent]) => sent === SIZE)).toHaveLength(2);
    expect(reports.length).toBeGreaterThan(4); // in chunks, not one report at the end
    expect(received.splice(0)).toEqual([SIZE, SIZE]);
  });

  it('netkit http put --data-file draws an upload bar on a terminal, -F too, and -s none', async () => {
    expect(await have('script')).toBe(true);
    const cmd = (args: string) => `"${process.execPath}" "${CLI}" http put ${args}`;
    const tty = await run('script', ['-qec', cmd(`--data-file '${file}' ${origin}/put`), '/dev/null']);
    expect(tty.code, tty.stdout).toBe(0);
    expect(tty.stdout).toMatch(/big\.bin \[#+\] 100% 3\.0 MiB\/3\.0 MiB/);
    expect(tty.stdout).toContain(`got ${SIZE}`);
    const form = await run('script', ['-qec', cmd(`-F 'f=@${file}' ${origin}/put`), '/dev/null']);
    expect(form.stdout).toMatch(/big\.bin \[#+\] 100% 3\.0 MiB\//);
    const quiet = await run('script', ['-qec', cmd(`-s --data-file '${file}' ${origin}/put`), '/dev/null']);
    expect(quiet.stdout).not.toContain('big.bin');
    expect(quiet.stdout).toContain(`got ${SIZE}`);
    // not a terminal and quick: the response only
    const plain = await netkit(['http', 'put', '--data-file', file, `${origin}/put`]);
    expect([plain.code, plain.stdout]).toEqual([0, `got ${SIZE}\n`]);
  });
});
