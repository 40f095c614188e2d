/**
 * A server's per-event output (the event log on stdout, `--trace` and connection notes on stderr)
 * when nobody reads it (`netkit smtp serve --trace 2>&1 | sleep 1000`, a paused pager): the
 * server keeps serving, holds at most `--max-log-backlog` of it (1 MiB by default) instead of
 * every line, and says on stderr how many lines it dropped — once the stream drains, and at exit.
 * A reader that keeps up loses nothing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_ANY_PORT_FLAGS, LAB_SOCKETS } from '../helpers/lab.js';
import { LineClient, startServe, tempDir } from '../helpers/net.js';
import { type Peer, spawnNetkit, until } from '../sockets/peers.js';

const rssKiB = (pid: number): number =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

/** Pipeline `count` NOOPs of about 1 KB each (two trace lines apiece) and wait for every reply. */
async function noops(port: number, count: number): Promise<void> {
  const c = await LineClient.connect(port);
  try {
    expect(await c.line()).toMatch(/^220 /);
    const arg = 'x'.repeat(1000);
    c.send(`NOOP ${arg}\r\n`.repeat(count));
    for (let i = 0; i < count; i++) expect(await c.line(30_000)).toMatch(/^250 /);
  } finally {
    c.close();
  }
}

/** The count in `netkit: dropped N WHAT while STREAM was not reading`, once the server said it. */
async function droppedReport(peer: Peer, what: string, stream: 'stdout' | 'stderr'): Promise<number> {
  const report = new RegExp(`^netkit: dropped ([\\d,]+) ${what} while ${stream} was not reading$`, 'm');
  await until(() => report.test(peer.stderr()), 10_000, `the report of dropped ${what}`);
  return Number(report.exec(peer.stderr())![1]!.replaceAll(',', ''));
}

describe('bounded server logs', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterAll(() => cleanup());

  it('smtp serve --trace: a stderr that is not read stays bounded, the server keeps answering, drops are counted', async () => {
    const serve = await spawnNetkit(
      ['smtp', 'serve', '--port', '0', '--json', '--trace', '--data', path.join(dir, 'smtp')],
      /"port":(\d+)/,
    );
    serve.child.stderr!.pause();
    try {
      // 6,000 NOOPs: about 6 MB of trace that nobody reads for now, every one answered
      const total = 6000;
      await noops(Number(serve.ready[1]), total);
      expect(rssKiB(serve.child.pid!)).toBeLessThan(150 * 1024);
      serve.child.stderr!.resume();
      const dropped = await droppedReport(serve, 'trace lines', 'stderr');
      expect(dropped).toBeGreaterThan(total);
      // printed: whole trace lines, what the pipe and our side took plus at most 1 MiB queued
      const printed = serve.stderr();
      expect(printed.length).toBeLessThan(3 * 1024 * 1024);
      for (const l of printed.split('\n').slice(0, -1)) expect(l).toMatch(/^\[smtp#\d+\] |^netkit: dropped /);
    } finally {
      await serve.kill();
    }
  });

  it('mail serve: a reader that keeps up gets every event log and trace line, nothing dropped', async () => {
    const server = await startServe(
      [
        'mail',
        'serve',
        '--data',
        path.join(dir, 'mail'),
        '--smtp-port',
        '0',
        '--pop3-port',
        '0',
        '--auth-accept-any',
        '--trace',
        '--max-log-backlog',
        '256k',
      ],
      2,
    );
    let stdout = '';
    let stderr = '';
    server.child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    server.child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    try {
      const smtp = await LineClient.connect(server.listening.find((l) => l.service === 'smtp')!.port);
      expect(await smtp.line()).toMatch(/^220 /);
      smtp.send('EHLO tester\r\n');
      await smtp.until(/^250 /);
      // 200 messages pipelined at once: bursts of trace on stderr, one log line each on stdout
      const total = 200;
      const message = (i: number) =>
        `MAIL FROM:<a@lab.test>\r\nRCPT TO:<bob@lab.test>\r\nDATA\r\nSubject: ${i}\r\n\r\n${'body '.repeat(100)}\r\n.\r\n`;
      smtp.send(Array.from({ length: total }, (_, i) => message(i)).join(''));
      for (let i = 0; i < total; i++) await smtp.until(/^250 2\.6\.0 /, 30_000);
      smtp.send('QUIT\r\n');
      await smtp.closed;
      const pop3 = await LineClient.connect(server.listening.find((l) => l.service === 'pop3')!.port);
      expect(await pop3.line()).toMatch(/^\+OK/);
      pop3.send('USER bob\r\nPASS any\r\nQUIT\r\n');
      await pop3.closed;
      const events = () => stdout.split('\n').filter((l) => l.startsWith('{"event"'));
      await until(() => events().some((l) => l.includes('"event":"quit"')), 10_000, 'the POP3 quit line');
      expect(events().filter((l) => l.includes('"event":"message"'))).toHaveLength(total);
      expect(events().filter((l) => l.includes('"event":"login"'))).toHaveLength(1);
      await until(() => /\[pop3#\d+\] C: QUIT/.test(stderr), 10_000, 'the POP3 trace');
      expect(stderr.match(/\[smtp#\d+\] C: DATA/g)).toHaveLength(total);
      expect(stderr).not.toMatch(/dropped/);
    } finally {
      await server.stop();
    }
  });

  it("lab --trace: every service's conversation is printed on stderr", async () => {
    const lab = await startServe(
      ['lab', '--data', path.join(dir, 'lab'), ...LAB_ANY_PORT_FLAGS, '--trace', '--max-log-backlog', '1m'],
      LAB_SOCKETS,
    );
    let stderr = '';
    lab.child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    try {
      const c = await LineClient.connect(lab.listening.find((l) => l.service === 'smtp')!.port);
      expect(await c.line()).toMatch(/^220 /);
      c.send('EHLO tester\r\n');
      await c.until(/^250 /);
      c.close();
      await until(() => /\[smtp#\d+\] C: EHLO tester/.test(stderr), 10_000, 'the SMTP trace');
    } finally {
      await lab.stop();
    }
  });
});
