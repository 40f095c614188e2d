/**
 * The dashboard's WebSocket accepts `{"type":"chat.post","room","nick","text"}`. JSON can carry
 * any type: a room or text that was an object, an array or a number went on to the chat server,
 * and the client was answered with its TypeError ("name.startsWith is not a function"). Such a
 * post is refused with a message that says what the fields must be, and a well-formed one still
 * reaches the chat.
 */
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ChatView } from '../../src/lab/context.js';
import { type DashboardHandle, startDashboard } from '../../src/lab/dashboard.js';
import { type ChatServer, createChatServer } from '../../src/sockets/chat-server.js';
import { tempDir } from '../helpers/net.js';
import { testLabContext } from './lab-context.js';

describe('dashboard WebSocket chat.post', () => {
  let cleanup: () => Promise<void>;
  let chat: ChatServer;
  let dash: DashboardHandle;

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    chat = await createChatServer({ port: 0, dataDir: dir });
    const view: ChatView = Object.assign(new EventEmitter(), {
      rooms: () => chat.rooms(),
      history: (room: string) => chat.history(room),
      post: (room: string, nick: string, text: string) => {
        chat.post(room, nick, text);
      },
    });
    dash = await startDashboard({ ...testLabContext(dir), chat: view }, { port: 0 });
  });
  afterAll(async () => {
    await dash?.close();
    await chat?.close(0);
    await cleanup();
  });

  it('refuses a room, text or nick that is not a string, and still posts a well-formed message', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${dash.port}/api/v1/ws`);
    const errors: string[] = [];
    const expected = 6;
    const answered = new Promise<void>((resolve) =>
      ws.on('message', (m) => {
        const msg = JSON.parse(String(m)) as { type: string; data: { message: string } };
        if (msg.type === 'error') errors.push(msg.data.message);
        if (errors.length === expected) resolve();
      }),
    );
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const bad = [
      { type: 'chat.post', room: { a: 1 }, text: 'hi' },
      { type: 'chat.post', room: ['lobby'], text: 'hi' },
      { type: 'chat.post', room: 'lobby', text: { a: 1 } },
      { type: 'chat.post', room: 'lobby', text: 5 },
      { type: 'chat.post', room: 'lobby', text: 'hi', nick: ['bob'] },
    ];
    for (const m of bad) ws.send(JSON.stringify(m));
    ws.send(JSON.stringify({ type: 'chat.post', room: 'lobby', nick: 'carol', text: 'well formed' }));
    // messages are handled in order: once the last one is answered, the one before it was posted
    ws.send(JSON.stringify({ type: 'chat.post', room: 7, text: 'hi' }));
    await answered;
    ws.terminate();
    expect(errors).toHaveLength(bad.length + 1);
    for (const e of errors) {
      expect(e).toBe('chat.post needs "room" and "text" strings (and "nick", when given)');
      expect(e).not.toMatch(/is not a function|TypeError|Cannot read/);
    }
    expect(chat.history('lobby').map((m) => [m.nick, m.text])).toContainEqual(['carol', 'well formed']);
  });
});
