/**
 * Dashboard access control: loopback by default, basic auth required elsewhere, health open, and
 * only loopback Host names answered on loopback (DNS rebinding).
 */
import { readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabContext } from '../../src/lab/context.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { Maildir } from '../../src/mail/maildir.js';
import { tempDir } from '../helpers/net.js';
import { testLabContext } from './lab-context.js';

describe('dashboard access control', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ctx: LabContext;
  let dash: DashboardHandle;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    ctx = testLabContext(dir);
    dash = await startDashboard(ctx, { port: 0, uiAuth: 'admin:s3cret' });
  });
  afterAll(async () => {
    await dash?.close();
    await cleanup();
  });

  it('refuses to bind a non-loopback address without --ui-auth', async () => {
    await expect(startDashboard(ctx, { host: '0.0.0.0', port: 0 })).rejects.toMatchObject({
      code: 'NETKIT_USAGE',
    });
  });

  it('asks for basic auth when configured, and accepts the right credentials only', async () => {
    const anon = await fetch(`${dash.url}api/v1/status`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toContain('Basic');
    const wrong = await fetch(`${dash.url}api/v1/status`, {
      headers: { authorization: `Basic ${btoa('admin:nope')}` },
    });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${dash.url}api/v1/status`, {
      headers: { authorization: `Basic ${btoa('admin:s3cret')}` },
    });
    expect(right.status).toBe(200);
  });

  it('survives hostile upgrade requests: an unparsable target, and a peer that resets at once', async () => {
    // "//x:99999" is a valid request-target for node:http but not for new URL(): it used to throw
    // inside the 'upgrade' listener and take the whole lab down
    const bad = await new Promise<string>((resolve, reject) => {
      const s = net.connect(dash.port, '127.0.0.1', () =>
        s.write(
          'GET //x:99999 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
        ),
      );
      s.once('data', (d) => {
        resolve(String(d).split('\r\n')[0]!);
        s.destroy();
      });
      s.on('error', reject);
    });
    expect(bad).toMatch(/^HTTP\/1\.1 400 /);
    // a refused upgrade whose client is already gone: writing the 403 fails with ECONNRESET/EPIPE,
    // which used to be an unhandled 'error' event on the socket
    for (let i = 0; i < 20; i++) {
      const s = net.connect(dash.port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      s.write('GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
      s.resetAndDestroy();
    }
    expect((await fetch(`${dash.url}livez`)).status).toBe(200);
  });

  it('survives a malformed WebSocket frame: the connection is closed, the lab stays up', async () => {
    const auth = `Basic ${btoa('admin:s3cret')}`;
    const s = net.connect(dash.port, '127.0.0.1');
    s.on('error', () => {});
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
      // a masked text frame with RSV2 set: ws rejects it with an 'error' on the WebSocket, which
      // had no listener and so was thrown, taking the whole lab down
      if (got.startsWith('HTTP/1.1 101 ') && got.includes('\r\n\r\n') && !s.destroyed)
        s.write(Buffer.from([0xa1, 0x82, 1, 2, 3, 4, 0x69, 0x6b]));
    });
    s.write(
      `GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth}\r\nUpgrade: websocket\r\n` +
        'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise((r) => s.once('close', r));
    expect(got).toMatch(/^HTTP\/1\.1 101 /);
    // the server answered with a close frame (0x88) before closing
    expect(got.slice(got.indexOf('\r\n\r\n') + 4).charCodeAt(0)).toBe(0x88);
    expect((await fetch(`${dash.url}livez`)).status).toBe(200);
  });

  it('closes the page file when the client aborts the load (no descriptor leak)', async () => {
    const auth = `Basic ${btoa('admin:s3cret')}`;
    const baseline = openIndexFds();
    for (let i = 0; i < 20; i++) {
      const s = net.connect(dash.port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth}\r\n\r\n`);
      s.resetAndDestroy();
    }
    expect((await fetch(dash.url, { headers: { authorization: auth } })).status).toBe(200);
    // pipe() left one descriptor of index.html open per aborted load, for good
    const deadline = Date.now() + 5000;
    while (openIndexFds() > baseline && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(openIndexFds()).toBeLessThanOrEqual(baseline);
  });

  it('keeps the health endpoints open for probes', async () => {
    expect((await fetch(`${dash.url}livez`)).status).toBe(200);
    expect((await fetch(`${dash.url}readyz`)).status).toBe(200);
  });

  it('serves pages with a strict Content-Security-Policy', async () => {
    const res = await fetch(dash.url, { headers: { authorization: `Basic ${btoa('admin:s3cret')}` } });
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
  });

  it('sends nosniff, no-referrer and a policy that loads nothing on API data and errors, not only on pages', async () => {
    const authorization = `Basic ${btoa('admin:s3cret')}`;
    const events = new AbortController();
    const answers = await Promise.all([
      fetch(`${dash.url}api/v1/status`, { headers: { authorization } }),
      fetch(`${dash.url}api/v1/nope`, { headers: { authorization } }),
      fetch(`${dash.url}api/v1/status`, { method: 'DELETE', headers: { authorization } }),
      fetch(`${dash.url}api/v1/status`),
      fetch(`${dash.url}livez`),
      fetch(`${dash.url}api/v1/events`, { headers: { authorization }, signal: events.signal }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([200, 404, 405, 401, 200, 200]);
    for (const r of answers) {
      expect([r.url, r.headers.get('x-content-type-options')]).toEqual([r.url, 'nosniff']);
      expect(r.headers.get('referrer-policy')).toBe('no-referrer');
      expect(r.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    }
    events.abort();
    await Promise.all(answers.slice(0, -1).map((r) => r.arrayBuffer()));
    const page = await fetch(dash.url, { headers: { authorization } });
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    await page.arrayBuffer();
  });

  it('publishes its OpenAPI description', async () => {
    const res = await fetch(`${dash.url}api/v1/openapi.json`, {
      headers: { authorization: `Basic ${btoa('admin:s3cret')}` },
    });
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/messages', '/chat/rooms/{room}/messages', '/wire']),
    );
  });
});

/** One raw request with a chosen Host header (fetch will not let us forge Host). */
function request(
  port: number,
  host: string,
  opts: { method?: string; path?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: opts.path ?? '/api/v1/mailboxes',
        headers: { host, ...opts.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Descriptors this process holds open on the dashboard's index.html (Linux /proc). */
function openIndexFds(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).endsWith(`${path.sep}web${path.sep}index.html`)) n += 1;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** The status line a WebSocket upgrade gets with the given Host and Origin. */
function upgradeStatus(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write(
        `GET /api/v1/ws HTTP/1.1\r\nHost: ${host}\r\nOrigin: http://${host}\r\nUpgrade: websocket\r\n` +
          'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    s.once('data', (d) => {
      resolve(String(d).split('\r\n')[0]!);
      s.destroy();
    });
    s.on('error', reject);
  });
}

describe('dashboard DNS-rebinding protection (Host check)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let dash: DashboardHandle;
  let authDash: DashboardHandle;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await Maildir.open(dir, 'bob').deliver(Buffer.from('Subject: secret\r\n\r\nthe secret\r\n'));
    const ctx = testLabContext(dir);
    dash = await startDashboard(ctx, { port: 0 });
    authDash = await startDashboard(ctx, { port: 0, uiAuth: 'admin:s3cret' });
  });
  afterAll(async () => {
    await dash?.close();
    await authDash?.close();
    await cleanup();
  });

  it('refuses reads and writes for a foreign Host name on a loopback dashboard', async () => {
    const evil = `evil.example:${dash.port}`;
    const read = await request(dash.port, evil);
    expect(read.status).toBe(403);
    expect(read.body).not.toContain('bob');
    expect(JSON.parse(read.body)).toMatchObject({ error: expect.stringContaining('Host') });
    // same-origin for the browser (Origin = Host = the rebound name), still refused
    const del = await request(dash.port, evil, {
      method: 'DELETE',
      path: '/api/v1/messages',
      headers: { origin: `http://${evil}` },
    });
    expect(del.status).toBe(403);
    expect((await totalMessages(dash.url)).total).toBe(1);
    expect(await upgradeStatus(dash.port, evil)).toMatch(/ 403 /);
  });

  it('answers to loopback names: 127.0.0.1, localhost, *.localhost, [::1]', async () => {
    for (const name of ['127.0.0.1', 'localhost', 'lab.localhost', '[::1]', 'LOCALHOST.']) {
      const res = await request(dash.port, `${name}:${dash.port}`);
      expect(res.status, name).toBe(200);
    }
    expect(await upgradeStatus(dash.port, `localhost:${dash.port}`)).toMatch(/ 101 /);
  });

  it('accepts any Host name when basic auth protects the dashboard', async () => {
    const res = await request(authDash.port, `lab-box.lan:${authDash.port}`, {
      headers: { authorization: `Basic ${btoa('admin:s3cret')}` },
    });
    expect(res.status).toBe(200);
  });
});

async function totalMessages(url: string): Promise<{ total: number }> {
  return (await (await fetch(`${url}api/v1/messages`)).json()) as { total: number };
}
