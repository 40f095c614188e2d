// undiciParts() must give working classes without loading undici's index (which pulls in fetch,
// WebSocket, caches and mocks: most of a one-shot request's start-up), ProxyAgent only when a proxy
// is used, and in the CLI bundle undici's modules from the bundle's own undici.cjs. Checked in fresh
// Node processes, since the test runner itself may have loaded undici.
import { execFile, execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNDICI_MODULES } from '../../src/http/undici-parts.js';
import { CLI, ROOT, tempDir } from '../helpers/net.js';
import { opensslCertificate } from '../helpers/openssl-cert.js';

describe('undiciParts', () => {
  it('loads Agent and the request API without undici/index.js, ProxyAgent and the rest on first use', () => {
    const mod = path.join(ROOT, 'dist/http/undici-parts.js');
    const script = `
      const { undiciParts } = await import(${JSON.stringify(mod)});
      const { createRequire } = await import('node:module');
      const loaded = (name) => Object.keys(createRequire(import.meta.url).cache).some((f) => f.endsWith(name));
      const { Agent, Dispatcher } = undiciParts();
      const agent = new Agent();
      const before = { proxyAgent: loaded('/undici/lib/dispatcher/proxy-agent.js'), connect: typeof agent.connect };
      const { ProxyAgent } = undiciParts();
      const out = {
        before,
        request: typeof agent.request,
        proxyRequest: typeof ProxyAgent.prototype.request,
        proxyConnect: typeof ProxyAgent.prototype.connect,
        isDispatcher: agent instanceof Dispatcher,
        same: undiciParts().Agent === Agent && undiciParts().ProxyAgent === ProxyAgent,
        index: loaded('/undici/index.js'),
      };
      await agent.close();
      console.log(JSON.stringify(out));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({
      before: { proxyAgent: false, connect: 'undefined' },
      request: 'function',
      proxyRequest: 'function',
      proxyConnect: 'function',
      isDispatcher: true,
      same: true,
      index: false,
    });
  });
});

describe('the CLI bundle', () => {
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    server = http.createServer((_req, res) => res.end('hello\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('has every module undici-parts uses in dist/cli-bundle/undici.cjs, and nothing else', () => {
    const bundle = path.join(ROOT, 'dist/cli-bundle/undici.cjs');
    const script = `
      const ids = ${JSON.stringify(Object.values(UNDICI_MODULES))};
      const load = require(${JSON.stringify(bundle)});
      const shape = (m) => [typeof m, Object.keys(m).sort().join()];
      const bundled = ids.map((id) => shape(load(id)));
      let other = '';
      try { load('undici'); } catch (e) { other = e.message; }
      const fromNodeModules = Object.keys(require.cache).filter((f) => f.includes('/node_modules/undici/'));
      const original = ids.map((id) => shape(require(id)));
      console.log(JSON.stringify({ bundled, original, other, fromNodeModules }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: ROOT }));
    expect(out.bundled).toEqual(out.original);
    expect(out.bundled.map(([kind]: [string]) => kind)).toContain('function');
    expect(out.other).toBe("undici is not in netkit's undici bundle");
    expect(out.fromNodeModules).toEqual([]);
  });

  it('`netkit http get` loads undici from the bundle, not from node_modules', async () => {
    // a preload that reports, at exit, which CommonJS files the process loaded
    const report =
      "process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'))";
    const { dir, cleanup } = await tempDir();
    const preload = path.join(dir, 'report.cjs');
    await writeFile(preload, report);
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--require', preload, CLI, 'http', 'get', url],
      { encoding: 'utf8' },
    ).finally(cleanup);
    expect(stdout).toBe('hello\n');
    const loaded = JSON.parse(/^LOADED (.*)$/m.exec(stderr)![1]!) as string[];
    expect(loaded.some((f) => f.endsWith('/dist/cli-bundle/undici.cjs'))).toBe(true);
    expect(loaded.filter((f) => f.includes('/node_modules/undici/'))).toEqual([]);
  });

  it("`netkit http get --http2` finds undici's HTTP/2 client in the bundle too", async () => {
    const report =
      "process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache)) + '\\n'))";
    const { dir, cleanup } = await tempDir();
    const { certFile, keyFile } = await opensslCertificate(dir);
    const h2 = http2.createSecureServer({ cert: await readFile(certFile), key: await readFile(keyFile) });
    h2.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end('over h2\n');
    });
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const preload = path.join(dir, 'report.cjs');
    await writeFile(preload, report);
    const h2url = `https://127.0.0.1:${(h2.address() as AddressInfo).port}/`;
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--require', preload, CLI, 'http', 'get', '--http2', '-i', '--cacert', certFile, h2url],
      { encoding: 'utf8' },
    ).finally(async () => {
      h2.close();
      await cleanup();
    });
    expect(stdout).toMatch(/^HTTP\/2 200\ndate: .*\n\nover h2\n$/);
    const loaded = JSON.parse(/^LOADED (.*)$/m.exec(stderr)![1]!) as string[];
    expect(loaded.filter((f) => f.includes('/node_modules/undici/'))).toEqual([]);
  });
});
