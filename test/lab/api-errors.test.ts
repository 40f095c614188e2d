/** REST API errors are the client's when the client erred: 400/404 with a JSON body, never 500 or a false 200. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { Maildir } from '../../src/mail/maildir.js';
import { tempDir } from '../helpers/net.js';
import { testLabContext } from './lab-context.js';

describe('dashboard REST API errors', () => {
  let cleanup: () => Promise<void>;
  let dash: DashboardHandle;
  let id: string;

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    id = await Maildir.open(dir, 'bob').deliver(Buffer.from('Subject: hi\r\n\r\nhello\r\n'));
    const ctx = testLabContext(dir);
    dash = await startDashboard(ctx, { port: 0 });
  });
  afterAll(async () => {
    await dash?.close();
    await cleanup();
  });

  const call = async (method: string, p: string) => {
    const res = await fetch(`${dash.url}api/v1${p}`, { method });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('answers a malformed %-escape in the path with 400, not 500', async () => {
    for (const [method, p] of [
      ['GET', '/messages/bob/%E0'],
      ['POST', '/messages/bob/%E0/read'],
      ['DELETE', '/messages/bob/%E0'],
      ['GET', '/messages/bob/%E0/transcript'],
      ['GET', '/chat/rooms/%E0/messages'],
    ] as const) {
      const res = await call(method, p);
      expect(res.status, `${method} ${p}`).toBe(400);
      expect(res.body.error).toMatch(/encoding/);
    }
  });

  it('marks a missing message read with 404, an existing one with 200', async () => {
    expect((await call('POST', '/messages/bob/1234.nope/read')).status).toBe(404);
    expect((await call('POST', '/messages/nobody/1234.nope/read')).status).toBe(404);
    expect((await call('POST', `/messages/bob/${encodeURIComponent(id)}/read`)).status).toBe(200);
    const list = await call('GET', '/messages?mailbox=bob');
    expect(list.body).toMatchObject({ total: 1, unread: 0 });
  });

  it('rejects a wire filter that is not a connection number', async () => {
    const res = await call('GET', '/wire?conn=abc');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/conn/);
    expect((await call('GET', '/wire?conn=3')).status).toBe(200);
  });
});
