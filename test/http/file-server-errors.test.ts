/**
 * The file server's answers to file-system errors: permission denied (EACCES, EPERM) and a file
 * that vanished after its path was resolved (ENOENT). The errors are injected by mocking
 * node:fs/promises, because the tests may run as root, whom no permission bit stops.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { tempDir } from '../helpers/net.js';

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  // the error a path's last component asks for, by name
  const injected = (p: unknown): string | undefined =>
    ({ 'eacces.txt': 'EACCES', 'eperm.txt': 'EPERM', 'vanished.txt': 'ENOENT', 'locked-dir': 'EACCES' })[
      path.basename(String(p))
    ];
  const fail = (p: unknown) =>
    Object.assign(new Error(`${injected(p)}: ${String(p)}`), { code: injected(p) });
  const unsearchable = (p: unknown) => path.basename(path.dirname(String(p))) === 'unsearchable';
  const denied = (p: unknown) => Object.assign(new Error(`EACCES: ${String(p)}`), { code: 'EACCES' });
  return {
    ...fs,
    open: (p: string, ...rest: []) => (injected(p) ? Promise.reject(fail(p)) : fs.open(p, ...rest)),
    opendir: (p: string, ...rest: []) => (injected(p) ? Promise.reject(fail(p)) : fs.opendir(p, ...rest)),
    // no entry of `unsearchable` can be examined, as in a directory without the x bit
    lstat: (p: string, ...rest: []) => (unsearchable(p) ? Promise.reject(denied(p)) : fs.lstat(p, ...rest)),
    stat: (p: string, ...rest: []) => (unsearchable(p) ? Promise.reject(denied(p)) : fs.stat(p, ...rest)),
  };
});

function get(port: number, target: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

let server: FileServerHandle;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  let dir: string;
  ({ dir, cleanup } = await tempDir('netkit-fs-errors-'));
  for (const name of ['eacces.txt', 'eperm.txt', 'vanished.txt']) await writeFile(path.join(dir, name), name);
  await mkdir(path.join(dir, 'locked-dir'));
  await mkdir(path.join(dir, 'unsearchable'));
  await writeFile(path.join(dir, 'unsearchable', 'f.txt'), 'f');
  server = await createFileServer({ root: dir, port: 0 });
});

afterAll(async () => {
  await server?.close(500);
  await cleanup?.();
});

describe('file server: file-system errors', () => {
  const cases: Array<[string, number]> = [
    ['/eacces.txt', 403],
    ['/eperm.txt', 403],
    ['/vanished.txt', 404],
    ['/locked-dir/', 403],
  ];
  for (const [target, status] of cases) {
    it(`${target} → ${status}`, async () => {
      expect((await get(server.port, target)).status).toBe(status);
      const head = await get(server.port, target, 'HEAD');
      expect(head.status).toBe(status);
      expect(head.body).toBe('');
    });
  }

  it('lists an entry it cannot examine without an invented size or date', async () => {
    const r = await get(server.port, '/unsearchable/?format=json');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).entries).toEqual([{ name: 'f.txt', type: 'other' }]);
    const html = await get(server.port, '/unsearchable/');
    expect(html.body).toContain('f.txt</a></td><td>-</td><td>-</td>');
    expect(html.body).not.toContain('1970');
  });
});
