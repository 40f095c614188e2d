/**
 * `close()` of the SMTP server around a message in flight. A message whose final dot arrives
 * before the deadline is stored and acknowledged (`250`), and the session is told `421` right
 * behind it instead of idling until the deadline. A message still arriving at the deadline gets
 * `421`, nothing of it is stored (neither `new/` nor `tmp/`), and `close()` resolves then, not
 * when the library's half-close timer (5 s more) would have dropped a client that keeps its socket
 * open. No timer fires in these tests unless they advance it (fake `setTimeout`): what closes a
 * connection is the protocol, not a timer running out.
 */
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSmtpServer, type SmtpServerHandle } from '../../src/mail/smtp-server.js';
import { tempDir } from '../helpers/net.js';
import { mailboxFiles, SmtpTestClient } from './smtp-test-client.js';

let dir: string;
let cleanup: () => Promise<void>;
let server: SmtpServerHandle;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir('netkit-smtp-shutdown-'));
  server = await createSmtpServer({ dataDir: dir, port: 0, tls: false });
});
afterEach(async () => {
  vi.useRealTimers();
  await server.close(0);
  await cleanup();
});

/** A client in the middle of DATA that never closes its side (allowHalfOpen), and what it read. */
async function inData(
  port: number,
): Promise<{ socket: net.Socket; text: () => string; ended: Promise<void> }> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => {});
  let text = '';
  let wake = (): void => {};
  socket.on('data', (d: Buffer) => {
    text += d.toString('latin1');
    wake();
  });
  const until = async (re: RegExp) => {
    while (!re.test(text)) await new Promise<void>((resolve) => (wake = resolve));
  };
  const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
  await until(/^220 /);
  socket.write('EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@lab.test>\r\nDATA\r\n');
  await until(/\r\n354 /);
  socket.write('Subject: in flight\r\n\r\nfirst half\r\n');
  return { socket, text: () => text, ended };
}

describe('smtp close() with a message in flight', () => {
  it('stores and acknowledges a message finished before the deadline, then says 421 at once', async () => {
    const { client } = await SmtpTestClient.open(server.port);
    await client.cmd('EHLO client.test');
    await client.cmd('MAIL FROM:<a@example.org>');
    await client.cmd('RCPT TO:<bob@lab.test>');
    expect((await client.cmd('DATA')).code).toBe(354);
    client.send('Subject: in flight\r\n\r\nfirst half\r\n');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const closing = server.close(60_000);
    client.send('second half\r\n.\r\n');
    expect((await client.reply()).last).toMatch(/^250 2\.6\.0 Ok: stored in mailbox bob/);
    expect((await client.reply()).last).toBe('421 4.4.2 Server shutting down');
    await closing;
    expect(await mailboxFiles(dir, 'bob')).toHaveLength(1);
    expect(await mailboxFiles(dir, 'bob', 'tmp')).toEqual([]);
  });

  it('refuses a message still arriving at the deadline with 421, stores nothing, and resolves then', async () => {
    const c = await inData(server.port);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const closing = server.close(1000);
    vi.advanceTimersByTime(1000);
    await c.ended;
    expect(c.text()).toMatch(/\r\n421 4\.4\.2 Server shutting down\r\n$/);
    await closing;
    expect(await mailboxFiles(dir, 'bob')).toEqual([]);
    expect(await mailboxFiles(dir, 'bob', 'tmp')).toEqual([]);
    c.socket.destroy();
  });
});
