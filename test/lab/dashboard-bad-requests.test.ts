/**
 * Requests the dashboard cannot read (a target that is no URL, a malformed Host) are the client's
 * error: 400 with a short text body, never 500 and never a crash. Driven with raw sockets and with
 * independent clients (curl --request-target, Python's http.client).
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { tempDir } from '../helpers/net.js';
import { testLabContext } from './lab-context.js';

const run = promisify(execFile);

/** Send raw bytes, read until the server closes; resolve with status line, headers and body. */
function raw(port: number, request: string): Promise<{ status: string; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      data += d;
    });
    s.on('error', reject);
    s.on('close', () => {
      const end = data.indexOf('\r\n\r\n');
      const head = end === -1 ? data : data.slice(0, end);
      resolve({ status: head.split('\r\n')[0]!, head, body: end === -1 ? '' : data.slice(end + 4) });
    });
  });
}

const get = (target: string, host = '127.0.0.1', method = 'GET') =>
  `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

describe('dashboard: unreadable requests are 400, not 500', () => {
  let cleanup: () => Promise<void>;
  let dash: DashboardHandle;

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    const ctx = testLabContext(dir);
    dash = await startDashboard(ctx, { port: 0 });
  });
  afterAll(async () => {
    await dash?.close();
    await cleanup();
  });

  it.each([
    ['//[', /begins with \/\//],
    ['//x:99999', /begins with \/\//],
    ['http://[', /authority/],
    ['http://[::1/', /authority/],
    ['http://x:99999/', /authority/],
    ['http://%zz/api/v1/status', /authority/],
    ['http://u:p@127.0.0.1/api/v1/status', /userinfo/],
    ['/api/v1/%zz', /malformed/],
    ['/a[b]', /malformed/],
  ])('answers %j with 400 and a text body (raw socket)', async (target, reason) => {
    const r = await raw(dash.port, get(target));
    expect(r.status).toBe('HTTP/1.1 400 Bad Request');
    expect(r.head).toMatch(/\r\ncontent-type: text\/plain; charset=utf-8\r\n/i);
    expect(r.body).toMatch(/^Bad Request: /);
    expect(r.body).toMatch(reason);
  });

  it('answers 400 to a malformed or repeated Host', async () => {
    for (const host of ['a b', 'x;y', '[', '127.0.0.1:99999', '127.0.0.1, evil.example', '']) {
      const r = await raw(dash.port, get('/api/v1/mailboxes', host));
      expect(r.status, host).toBe('HTTP/1.1 400 Bad Request');
      expect(r.body, host).toBe('Bad Request: malformed Host\n');
    }
    const two = await raw(
      dash.port,
      'GET /api/v1/mailboxes HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    );
    expect(two.status).toBe('HTTP/1.1 400 Bad Request');
    expect(two.body).toMatch(/more than one Host/);
  });

  it('answers HEAD with the 400 status and no body', async () => {
    const r = await raw(dash.port, get('//[', '127.0.0.1', 'HEAD'));
    expect(r.status).toBe('HTTP/1.1 400 Bad Request');
    expect(r.body).toBe('');
  });

  it('checks the Host check against the authority of an absolute-form target', async () => {
    const evil = await raw(dash.port, get('http://evil.example/api/v1/mailboxes'));
    expect(evil.status).toMatch(/ 403 /);
    const ok = await raw(dash.port, get(`http://127.0.0.1:${dash.port}/api/v1/mailboxes`, 'evil.example'));
    expect(ok.status).toMatch(/ 200 /);
    expect(ok.body).toBe('[]');
  });

  it('reads "//x/…" as a path, not as host x', async () => {
    // new URL('//x/api/v1/mailboxes', base) is host "x", path "/api/v1/mailboxes"
    const r = await raw(dash.port, get('//x/api/v1/mailboxes'));
    expect(r.status).toBe('HTTP/1.1 400 Bad Request');
    expect(r.body).not.toContain('[]');
  });

  it('never answers 500 to any visible ASCII character in any position of a target', async () => {
    const statuses = new Set<string>();
    for (let c = 0x21; c <= 0x7e; c++) {
      const ch = String.fromCharCode(c);
      for (const target of [`/${ch}`, `//${ch}`, `http://${ch}/`, `/api/v1/messages/bob/${ch}`, `/?${ch}`]) {
        const r = await raw(dash.port, get(target));
        expect(r.status, JSON.stringify(target)).toMatch(/^HTTP\/1\.1 (200|400|403|404|405) /);
        statuses.add(r.status.slice(9, 12));
      }
    }
    expect(statuses).toContain('400');
    expect((await raw(dash.port, get('/livez'))).status).toMatch(/ 200 /);
  });

  it('answers an upgrade with an unreadable target with 400 and a text body', async () => {
    const r = await raw(
      dash.port,
      'GET http://[ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    expect(r.status).toBe('HTTP/1.1 400 Bad Request');
    expect(r.body).toMatch(/^Bad Request: bad authority/);
  });

  it('answers curl --request-target with 400', async () => {
    for (const target of ['//[', 'http://[', 'http://x:99999/']) {
      const { stdout } = await run('curl', [
        '-sS',
        '-i',
        '--request-target',
        target,
        `http://127.0.0.1:${dash.port}/`,
      ]);
      expect(stdout.split('\r\n')[0], target).toBe('HTTP/1.1 400 Bad Request');
      expect(stdout, target).toMatch(/\r\n\r\nBad Request: .+\n$/);
    }
  });

  it("answers Python's http.client with 400", async () => {
    const script = `
import http.client, sys
for target in sys.argv[2:]:
    c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=10)
    c.putrequest('GET', target, skip_host=True)
    c.putheader('Host', '127.0.0.1')
    c.endheaders()
    r = c.getresponse()
    print(r.status, r.getheader('Content-Type'), r.read().decode().strip(), sep='|')
    c.close()
`;
    const { stdout } = await run('/usr/bin/python3', [
      '-c',
      script,
      String(dash.port),
      '//[',
      'http://[',
      '//x:99999',
      '/api/v1/%zz',
    ]);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).toMatch(/^400\|text\/plain; charset=utf-8\|Bad Request: /);
    expect((await raw(dash.port, get('/livez'))).status).toMatch(/ 200 /);
  });
});
