/** Dashboard access control: loopback by default, basic auth required elsewhere, health open. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import type { LabContext } from '../../src/lab/context.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { MailIndex } from '../../src/lab/mail-index.js';
import { WireLog } from '../../src/lab/wire.js';
import { tempDir } from '../helpers/net.js';

describe('dashboard access control', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ctx: LabContext;
  let dash: DashboardHandle;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    ctx = {
      dataDir: dir,
      mail: new MailIndex(dir),
      wire: new WireLog(),
      accounts: new AccountStore(dir),
      status: () => [],
    };
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
