import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChatServer, createChatServer } from '../../src/sockets/chat-server.js';
import { LineClient } from '../helpers/net.js';

const servers: ChatServer[] = [];
const clients: LineClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close(200);
});

async function start(opts: Parameters<typeof createChatServer>[0] = {}): Promise<ChatServer> {
  const s = await createChatServer({ rateLimit: { perSecond: 0 }, ...opts });
  servers.push(s);
  return s;
}

async function join(s: ChatServer, nick: string): Promise<LineClient> {
  const c = await LineClient.connect(s.port);
  clients.push(c);
  c.send(`/nick ${nick}\r\n`);
  await c.until(new RegExp(`^\\*\\*\\* You are now known as ${nick}$`));
  return c;
}

/** Kept in its own file: it is the slowest chat test, and files run in parallel. */
describe('chat server: connection churn', () => {
  it('survives 10,000 connect/disconnect cycles', async () => {
    const s = await start({ maxClientsPerIp: 1000 });
    const watcher = await join(s, 'watcher');
    let done = 0;
    const cycle = () =>
      new Promise<void>((resolve) => {
        const sock = net.connect(s.port, '127.0.0.1');
        sock.on('error', () => {});
        sock.resume();
        sock.on('connect', () => (done % 2 ? sock.destroy() : sock.end()));
        sock.on('close', () => {
          done++;
          resolve();
        });
      });
    const worker = async (n: number) => {
      for (let i = 0; i < n; i++) await cycle();
    };
    await Promise.all(Array.from({ length: 50 }, () => worker(200)));
    expect(done).toBe(10_000);
    // every connection has been cleaned up
    for (let i = 0; i < 100 && s.clients > 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(s.clients).toBe(1);
    expect(s.rooms()[0]!.members).toEqual(['watcher']);
    watcher.send('/who\n');
    expect(await watcher.until(/^\*\*\* In #lobby/)).toBe('*** In #lobby (1): watcher');
  }, 60_000);
});
