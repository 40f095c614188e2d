/**
 * `--compressed` / `compressed: true`: the codings themselves (units), then nginx with `gzip on`
 * as the independent server, and servers that lie about their encoding.
 */
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetkitError } from '../../src/core/errors.js';
import { contentEncodings, decodeBody } from '../../src/http/content-encoding.js';
import { httpRequest } from '../../src/http/request.js';
import { netkit, tempDir } from '../helpers/net.js';
import { type NginxHandle, startNginx } from '../helpers/nginx.js';

async function* chunks(data: Buffer, size = 7): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function decoded(data: Buffer, encoding: string | undefined): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of decodeBody(chunks(data), encoding)) out.push(c);
  return Buffer.concat(out);
}

const TEXT = Buffer.from('netkit compressed response\n'.repeat(500));

describe('content codings', () => {
  it('lists codings in the order applied, without identity, and refuses unknown or stacked ones', () => {
    expect(contentEncodings(undefined)).toEqual([]);
    expect(contentEncodings('GZIP')).toEqual(['gzip']);
    expect(contentEncodings(['gzip', 'identity, br'])).toEqual(['gzip', 'br']);
    expect(() => contentEncodings('zstd')).toThrow(/Content-Encoding "zstd", which netkit cannot decode/);
    expect(contentEncodings('gzip, gzip, gzip, gzip, gzip')).toHaveLength(5); // curl's limit
    expect(() => contentEncodings('gzip, gzip, gzip, gzip, gzip, gzip')).toThrow(/stacks 6/);
  });

  it('undoes gzip, x-gzip, deflate, br and a stack of them, chunk boundaries anywhere', async () => {
    expect((await decoded(gzipSync(TEXT), 'gzip')).equals(TEXT)).toBe(true);
    expect((await decoded(gzipSync(TEXT), 'x-gzip')).equals(TEXT)).toBe(true);
    expect((await decoded(deflateSync(TEXT), 'deflate')).equals(TEXT)).toBe(true);
    expect((await decoded(brotliCompressSync(TEXT), 'br')).equals(TEXT)).toBe(true);
    // gzip applied first, then br: decoded br first
    expect((await decoded(brotliCompressSync(gzipSync(TEXT)), 'gzip, br')).equals(TEXT)).toBe(true);
    expect((await decoded(TEXT, undefined)).equals(TEXT)).toBe(true);
    expect((await decoded(Buffer.alloc(0), 'gzip')).length).toBe(0);
    // no body (HEAD, 204, 304): even an encoding we cannot decode is no error
    expect((await decoded(Buffer.alloc(0), 'zstd')).length).toBe(0);
    // "deflate" sent raw, without the zlib header: accepted, as curl accepts it
    expect((await decoded(deflateRawSync(TEXT), 'deflate')).equals(TEXT)).toBe(true);
  });

  it('passes a failure to read the body on as it is, not as bad data', async () => {
    const gz = gzipSync(TEXT);
    async function* cut(): AsyncGenerator<Buffer> {
      yield gz.subarray(0, 100);
      throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    }
    const out: Buffer[] = [];
    const err = await (async () => {
      for await (const c of decodeBody(cut(), 'gzip')) out.push(c);
    })().catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('UND_ERR_SOCKET');
  });

  it('fails with one clear line on a corrupt or truncated body', async () => {
    await expect(decoded(Buffer.from('not gzip at all'), 'gzip')).rejects.toThrow(
      /^the response body is not valid gzip data: /,
    );
    const gz = gzipSync(TEXT);
    const err = await decoded(gz.subarray(0, gz.length - 10), 'gzip').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetkitError);
    expect((err as NetkitError).code).toBe('NETKIT_PROTOCOL');
  });
});

describe('--compressed against nginx (gzip on)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let nginx: NginxHandle;
  let liar: http.Server;
  let liarUrl: string;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('netkit-gzip-'));
    await writeFile(path.join(dir, 'page.txt'), TEXT);
    nginx = await startNginx({
      root: dir,
      serverExtra: 'gzip on; gzip_types text/plain; gzip_min_length 0; types { text/plain txt; }',
    });
    // claims gzip, sends plain text
    liar = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Type': 'text/plain' });
      res.end('plain text, not gzip');
    });
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
    liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await nginx?.stop();
    await new Promise((r) => liar?.close(r));
    await cleanup();
  });

  it('asks for gzip, shows the Content-Encoding nginx sent and prints the decoded body', async () => {
    const r = await netkit(['http', 'get', '-i', '--compressed', `${nginx.url}page.txt`]);
    expect(r.code).toBe(0);
    const split = r.stdout.indexOf('\n\n');
    const [head, body] = [r.stdout.slice(0, split), r.stdout.slice(split + 2)];
    expect(head).toMatch(/^Content-Encoding: gzip$/im);
    expect(body).toBe(TEXT.toString());
  });

  it('without --compressed asks for nothing and gets the identity body (as curl)', async () => {
    const r = await netkit(['http', 'get', '-i', `${nginx.url}page.txt`]);
    expect(r.stdout).not.toMatch(/Content-Encoding/i);
    expect(r.stdout.endsWith(TEXT.toString())).toBe(true);
  });

  it('writes the decoded body to -o FILE, and the library decodes with compressed: true', async () => {
    const out = path.join(dir, 'out.txt');
    const r = await netkit(['http', 'get', '--compressed', '-o', out, `${nginx.url}page.txt`]);
    expect(r.code).toBe(0);
    expect((await readFile(out)).equals(TEXT)).toBe(true);
    const res = await httpRequest({ url: `${nginx.url}page.txt`, compressed: true });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.body.equals(TEXT)).toBe(true);
  });

  it('refuses a body that is not what its Content-Encoding says, in one line', async () => {
    const r = await netkit(['http', 'get', '--compressed', liarUrl]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^netkit: the response body is not valid gzip data: /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
