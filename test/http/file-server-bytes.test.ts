/**
 * File names that are not UTF-8 (a tree written by a Latin-1 system): listed with links made of
 * their bytes, served at those links, and jailed like any other path — compared with nginx's
 * autoindex, with curl as the client.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { percentDecodeBytes, percentEncodeName } from '../../src/http/byte-path.js';
import { createFileServer, type FileServerHandle } from '../../src/http/file-server.js';
import { run, tempDir } from '../helpers/net.js';
import { type NginxHandle, startNginx } from '../helpers/nginx.js';

/** A path with Latin-1 bytes in it: `é` is the single byte 0xE9, not UTF-8's C3 A9. */
const latin1 = (p: string) => Buffer.from(p, 'latin1');

function get(port: number, target: string): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          ...(res.headers.location ? { location: res.headers.location } : {}),
          body: Buffer.concat(chunks).toString('latin1'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

let dir: string;
let cleanup: () => Promise<void>;
let root: string;
let server: FileServerHandle;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-fs-bytes-'));
  root = path.join(dir, 'root');
  await mkdir(root);
  await writeFile(latin1(`${root}/caf\xe9.txt`), 'latin-1 name\n');
  await writeFile(path.join(root, 'café.txt'), 'utf-8 name\n');
  await mkdir(latin1(`${root}/d\xe9j\xe0`));
  await writeFile(latin1(`${root}/d\xe9j\xe0/in.txt`), 'in a latin-1 directory\n');
  await writeFile(latin1(`${dir}/secret\xe9.txt`), 'outside the root');
  await symlink(latin1(`${dir}/secret\xe9.txt`), latin1(`${root}/out\xe9`));
  await symlink(dir, latin1(`${root}/d\xe9j\xe0/up\xe9`));
  await symlink(latin1(`${root}/caf\xe9.txt`), latin1(`${root}/link\xe9`));
  server = await createFileServer({ root, port: 0 });
});

afterAll(async () => {
  await server?.close(500);
  await cleanup?.();
});

describe('file server: names that are not UTF-8', () => {
  const cases: Array<[string, number, string?]> = [
    ['/caf%E9.txt', 200, 'latin-1 name\n'],
    ['/caf%e9.txt', 200, 'latin-1 name\n'],
    ['/caf%C3%A9.txt', 200, 'utf-8 name\n'],
    ['/d%E9j%E0/in.txt', 200, 'in a latin-1 directory\n'],
    ['/link%E9', 200, 'latin-1 name\n'],
    ['/d%E9j%E0/../caf%E9.txt', 200, 'latin-1 name\n'],
    // the jail holds on byte paths: dot-segments, %2f, NUL, bad escapes, links out of the root
    ['/d%E9j%E0/%2e%2e/%2e%2e/secret%E9.txt', 403],
    ['/d%E9j%E0%2f..%2f..%2fsecret%E9.txt', 403],
    ['/%E9/../../secret%E9.txt', 403],
    ['/out%E9', 403],
    ['/d%E9j%E0/up%E9/secret%E9.txt', 403],
    ['/d%E9j%E0/up%E9/', 403],
    ['/caf%E9.txt%00', 400],
    ['/caf%E9%00.txt', 400],
    ['/caf%E9%', 400],
    ['/caf%E9%G0', 400],
    // an overlong UTF-8 "." (C0 AE) is two bytes of a name, never a dot-segment
    ['/%C0%AE%C0%AE/%C0%AE%C0%AE/secret%E9.txt', 404],
    ['/caf%E9.txt/', 404],
    ['/caf%E8.txt', 404],
  ];
  for (const [target, status, body] of cases) {
    it(`${target} → ${status}`, async () => {
      const r = await get(server.port, target);
      expect(r.status).toBe(status);
      if (body !== undefined) expect(r.body).toBe(body);
      expect(r.body).not.toContain('outside the root');
    });
  }

  it('redirects a Latin-1 directory to its slash with the bytes percent-encoded', async () => {
    const r = await get(server.port, '/d%e9j%e0?x=1');
    expect(r.status).toBe(301);
    expect(r.location).toBe('/d%E9j%E0/?x=1');
    const listing = await get(server.port, '/d%E9j%E0/');
    expect(listing.status).toBe(200);
    expect(listing.body).toContain('href="in.txt"');
  });

  it('lists such names with links made of their bytes, as nginx autoindex does, and curl fetches them', async () => {
    const nginx: NginxHandle = await startNginx({ root, serverExtra: 'autoindex on;' });
    try {
      const hrefs = async (url: string) => {
        const r = await run('curl', ['-sS', url]);
        expect(r.stderr).toBe('');
        return [...r.stdoutBuf.toString('latin1').matchAll(/href="([^"]+)"/g)]
          .map((m) => m[1]!)
          .filter((h) => h !== '../')
          .sort();
      };
      const ours = await hrefs(server.url);
      const theirs = await hrefs(nginx.url);
      expect(ours).toEqual(['caf%C3%A9.txt', 'caf%E9.txt', 'd%E9j%E0/', 'link%E9', 'out%E9']);
      expect(ours).toEqual(theirs);
      for (const href of ['caf%E9.txt', 'link%E9', 'd%E9j%E0/in.txt']) {
        const a = await run('curl', ['-sS', '-f', `${server.url}${href}`]);
        const b = await run('curl', ['-sS', '-f', `${nginx.url}${href}`]);
        expect(a.code).toBe(0);
        expect(a.stdout).toBe(b.stdout);
      }
      // nginx follows a link out of its root (disable_symlinks is off by default); we do not
      expect(
        (await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${server.url}out%E9`])).stdout,
      ).toBe('403');
    } finally {
      await nginx.stop();
    }
  });

  it('shows such names as text in the listing and gives their link in JSON', async () => {
    const html = (await get(server.port, '/')).body;
    // the page is UTF-8: the bad byte shows as U+FFFD, not as a byte that breaks the page
    expect(Buffer.from(html, 'latin1').toString('utf8')).toContain('>caf\ufffd.txt</a>');
    const j = JSON.parse(
      Buffer.from((await get(server.port, '/?format=json')).body, 'latin1').toString('utf8'),
    );
    const names = j.entries.map((e: { name: string; href?: string }) => [e.name, e.href]);
    expect(names).toContainEqual(['caf\ufffd.txt', 'caf%E9.txt']);
    expect(names).toContainEqual(['café.txt', undefined]);
    expect(j.entries.find((e: { name: string }) => e.name === 'caf\ufffd.txt')).toMatchObject({
      type: 'file',
      size: 13,
    });
    // a link that leads out of the root says nothing about its target, bytes or not
    expect(j.entries.find((e: { href?: string }) => e.href === 'out%E9')).toEqual({
      name: 'out\ufffd',
      href: 'out%E9',
      type: 'other',
    });
  });

  it('percent-decodes to bytes strictly and encodes bytes as encodeURIComponent does', () => {
    expect(percentDecodeBytes('/caf%E9')).toEqual(latin1('/caf\xe9'));
    expect(percentDecodeBytes('/a%2fb%2E')).toEqual(Buffer.from('/a/b.'));
    for (const bad of ['%', '%E', '%G0', '%%41', 'a%2']) expect(percentDecodeBytes(bad)).toBeUndefined();
    expect(percentEncodeName(latin1("caf\xe9 (1)!~*'.txt"))).toBe(
      encodeURIComponent("caf\xe9 (1)!~*'.txt").replace('%C3%A9', '%E9'),
    );
    expect(percentEncodeName('a b/é')).toBe(encodeURIComponent('a b/é'));
  });
});
