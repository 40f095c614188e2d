/**
 * Request bodies on the dashboard: an API call's JSON body over its limit (64 KiB) is answered 413
 * with `Connection: close` — it used to say keep-alive and then reset the connection (reading had
 * stopped by destroying the request), which can erase the answer before the client reads it —
 * and a body over 1 MiB declared to any endpoint is refused up front, as by `http serve`, instead
 * of being read to its end (unread-body.ts).
 */
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatView } from '../../src/lab/context.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { rawExchange, tempDir } from '../helpers/net.js';
import { testLabContext } from './lab-context.js';

const MESSAGES = '/api/v1/chat/rooms/lobby/messages';
const post = (target: string, framing: string, body: string) =>
  `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${framing}\r\n${body}`;

describe('dashboard: request bodies over the limit', () => {
  let cleanup: () => Promise<void>;
  let dash: DashboardHandle;
  const posted: string[] = [];

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    const chat: ChatView = Object.assign(new EventEmitter(), {
      rooms: () => [],
      history: () => [],
      post: (_room: string, _nick: string, text: string) => {
        posted.push(text);
      },
    });
    dash = await startDashboard({ ...testLabContext(dir), chat }, { port: 0 });
  });
  afterAll(async () => {
    await dash?.close();
    await cleanup();
  });

  it('a chunked JSON body past 64 KiB: 413, then the connection closes', async () => {
    const text = 'x'.repeat(100_000);
    const json = JSON.stringify({ text });
    const body = `${json.length.toString(16)}\r\n${json}\r\n0\r\n\r\n`;
    const reply = await rawExchange(dash.port, post(MESSAGES, 'Transfer-Encoding: chunked\r\n', body));
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
    expect(reply).toContain('\r\nConnection: close\r\n');
    expect(reply).toMatch(/\r\n\r\n\{"error":"request body too large"\}$/);
    expect(posted).toEqual([]);
  });

  it('a declared one is refused before it is read', async () => {
    const json = JSON.stringify({ text: 'x'.repeat(100_000) });
    const reply = await rawExchange(dash.port, post(MESSAGES, `Content-Length: ${json.length}\r\n`, json));
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
    // and over 1 MiB to any endpoint, one that reads no body too
    const livez = await rawExchange(dash.port, post('/livez', `Content-Length: ${2 * 1024 * 1024}\r\n`, ''));
    expect(livez).toMatch(/^HTTP\/1\.1 413 /);
    expect(livez).toContain('\r\nConnection: close\r\n');
  });

  it('a body within the limit is posted', async () => {
    const json = JSON.stringify({ text: 'hello' });
    const reply = await rawExchange(
      dash.port,
      post(MESSAGES, `Content-Length: ${json.length}\r\nConnection: close\r\n`, json),
    );
    expect(reply).toMatch(/^HTTP\/1\.1 20\d /);
    expect(posted).toEqual(['hello']);
  });
});
