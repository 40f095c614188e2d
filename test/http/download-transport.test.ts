/**
 * The downloader's direct connections (Node's http/https agents, src/http/download/node-transport.ts):
 * keep-alive reuse after the HEAD probe, https with and without certificate checks, IPv6
 * literals, and a server that stops sending.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { generateDevCertificate } from '../../src/core/tls.js';
import { type DownloadOptions, download } from '../../src/http/download/index.js';
import { tempDir } from '../helpers/net.js';
import { serveRanges } from './download-servers.js';

const KiB = 1024;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function workDir(): Promise<string> {
  const t = await tempDir('netkit-dl-transport-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/** Listen, count TCP connections, and destroy them all on cleanup. */
async function listen(server: http.Server | https.Server, host = '127.0.0.1') {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  server.on(server instanceof https.Server ? 'secureConnection' : 'connection', (s: net.Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, connections: () => connections };
}

const fetchTo = (url: string, opts: DownloadOptions) =>
  download(url, { retryDelayMs: 5, minSegmentSize: 16 * KiB, ...opts }).promise;

describe('download: direct connections', () => {
  it('the HEAD probe and the ranged GETs share one keep-alive connection', async () => {
    const data = randomBytes(64 * KiB);
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.method ?? '');
      serveRanges(data, req, res);
    });
    const { port, connections } = await listen(server);
    const dir = await workDir();
    const result = await fetchTo(`http://127.0.0.1:${port}/file.bin`, { dir, connections: 1 });
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(seen).toEqual(['HEAD', 'GET']);
    // a probe answer left unread would hold its connection until the server's keep-alive timeout
    expect(connections()).toBe(1);
  });

  it('https: the certificate is checked, and --insecure skips the check', async () => {
    const { cert, key } = await generateDevCertificate();
    const data = randomBytes(200 * KiB);
    const server = https.createServer({ cert, key }, (req, res) => serveRanges(data, req, res));
    const { port } = await listen(server);
    const url = `https://127.0.0.1:${port}/file.bin`;
    await expect(fetchTo(url, { dir: await workDir(), retries: 0 })).rejects.toThrow(
      /^TLS certificate of 127\.0\.0\.1:\d+ not trusted \(self-signed certificate\); trust it with --cacert FILE, or skip verification with --insecure$/,
    );
    const result = await fetchTo(url, { dir: await workDir(), insecure: true, connections: 4 });
    expect(result.mode).toBe('segmented');
    expect((await readFile(result.file)).equals(data)).toBe(true);
  });

  it('an IPv6 literal', async () => {
    const data = randomBytes(100 * KiB);
    let host: string | undefined;
    const server = http.createServer((req, res) => {
      host = req.headers.host;
      serveRanges(data, req, res);
    });
    const { port } = await listen(server, '::1');
    const result = await fetchTo(`http://[::1]:${port}/file.bin`, { dir: await workDir(), connections: 2 });
    expect((await readFile(result.file)).equals(data)).toBe(true);
    expect(host).toBe(`[::1]:${port}`);
  });

  it('a server that stops sending fails after the timeout, naming the host', async () => {
    const server = http.createServer((req, res) => {
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'accept-ranges': 'bytes', 'content-length': 100 * KiB });
        res.end();
        return;
      }
      res.writeHead(206, {
        'content-range': `bytes 0-${100 * KiB - 1}/${100 * KiB}`,
        'content-length': 100 * KiB,
      });
      res.write(Buffer.alloc(KiB)); // and then nothing
    });
    const { port } = await listen(server);
    await expect(
      fetchTo(`http://127.0.0.1:${port}/file.bin`, {
        dir: await workDir(),
        connections: 1,
        retries: 0,
        timeoutMs: 200,
      }),
    ).rejects.toThrow(new RegExp(`no data from 127\\.0\\.0\\.1:${port} for 0\\.2 s`));
  });
});
