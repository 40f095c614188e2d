/**
 * SIGINT/SIGTERM at the `serve` commands. A supervisor (systemd, a test harness) may stop a server
 * as soon as it has printed that it listens: the stop must be the graceful one (exit 0), which it
 * was not while the signal handlers came after that line (the signal killed the process). A second
 * signal while the first stop is draining exits at once, 143 for SIGTERM (130 for SIGINT), as a
 * shell reports a process ended by that signal; a second SIGTERM used to exit 130. Python's smtplib is the independent client that
 * sees the `421` of the first stop.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, LineClient, startServe, tempDir } from '../helpers/net.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-signals-'));
});
afterAll(() => cleanup());

/** Start `netkit …args`, send SIGTERM the moment its first line is out; how it ended. */
function stoppedAtFirstLine(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const first = (): void => {
    child.stdout.off('data', first);
    child.stderr.off('data', first);
    child.kill('SIGTERM');
  };
  child.stdout.on('data', first);
  child.stderr.on('data', first);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

const SERVERS: Array<[string, string[]]> = [
  ['smtp serve', ['smtp', 'serve', '--port', '0', '--no-tls', '--data', 'data']],
  ['pop3 serve', ['pop3', 'serve', '--port', '0', '--data', 'data']],
  ['mail serve', ['mail', 'serve', '--smtp-port', '0', '--pop3-port', '0', '--data', 'data']],
  ['ftp serve', ['ftp', 'serve', '--port', '0', '--no-tls', '--data', 'data', '--root', 'ftp']],
  ['http serve', ['http', 'serve', '.', '--port', '0']],
  ['chat serve', ['chat', 'serve', '--port', '0', '--json']],
  ['serve (classic)', ['serve', 'echo', '--port', '0', '--json']],
  ['tcp listen -k', ['tcp', 'listen', '0', '-k', '--echo', '--json']],
  ['udp listen', ['udp', 'listen', '0', '--json']],
];

describe('SIGTERM right after the listening line', () => {
  it('every serve command stops gracefully and exits 0', async () => {
    // the window was up to a millisecond or so wide (smtp, ftp, chat, serve; microseconds for
    // the others): a few tries of each hit it nearly always
    for (const [name, args] of SERVERS) {
      for (let i = 0; i < 2; i++) {
        expect({ name, ...(await stoppedAtFirstLine(args)) }).toEqual({ name, code: 0, signal: null });
      }
    }
  });
});

/** A Python smtplib session that prints the reply the server sends it unasked (the 421 of a stop). */
const SMTPLIB_WAITS = `
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
s.ehlo()
print('ready', flush=True)
print(*s.getreply(), flush=True)
sys.stdin.read()
`;

describe('a second signal while the first stop drains', () => {
  it('SIGTERM twice exits 143 at once', async () => {
    const data = path.join(dir, 'second-signal');
    const server = await startServe(['smtp', 'serve', '--port', '0', '--no-tls', '--data', data]);
    const port = server.listening[0]!.port;
    // a message in flight holds the first stop (up to its drain deadline)
    const sender = await LineClient.connect(port);
    await sender.until(/^220 /);
    sender.send('EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@lab.test>\r\nDATA\r\n');
    await sender.until(/^354 /);
    sender.send('Subject: in flight\r\n\r\nfirst half\r\n');
    const python = spawn('python3', ['-c', SMTPLIB_WAITS, String(port)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    let wake = (): void => {};
    python.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      wake();
    });
    const printed = async (text: string): Promise<void> => {
      while (!out.includes(text)) await new Promise<void>((resolve) => (wake = resolve));
    };
    await printed('ready\n');
    const exited = new Promise<number | null>((resolve) => server.child.once('exit', (c) => resolve(c)));
    server.child.kill('SIGTERM');
    // the first signal is being handled: the idle session got its 421
    await printed("421 b'4.4.2 Server shutting down'\n");
    server.child.kill('SIGTERM');
    expect(await exited).toBe(143);
    python.stdin!.end();
    sender.close();
  });
});
