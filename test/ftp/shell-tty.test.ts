/**
 * `netkit ftp shell` on a pseudo-terminal, as a person uses it: util-linux `script` runs it on a
 * pty and the test types into it — the `ftp> ` prompt, `open`, `user` with a password prompt that
 * does not echo, TAB completion of a remote directory and
 * of a remote file name with a blank in it (then downloaded under that name), history (Up),
 * Ctrl-C at the prompt, Ctrl-C during a stalled download (the part file kept, the shell logged in
 * again and still usable), `bye` exiting 0. Every wait is for output, never for time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src/core/accounts.js';
import { createFtpServer, type FtpServerHandle } from '../../src/ftp/server.js';
import { CLI, have, tempDir } from '../helpers/net.js';
import { pattern, sha256, writeTree } from './client-helpers.js';
import { fakeFtp } from './fake-ftp.js';

const PW = 'tty-Secret-3';
let base: string;
let cleanup: () => Promise<void>;
let server: FtpServerHandle;

beforeAll(async () => {
  ({ dir: base, cleanup } = await tempDir('netkit-ftpshell-tty-'));
  const root = path.join(base, 'ftp');
  const data = path.join(base, 'data');
  await new AccountStore(data).add('dave', PW);
  await writeTree(path.join(root, 'home/dave'), {
    'reports/report 2024.txt': 'the annual report\n',
    'reports/summary.txt': 'short\n',
    'docs/.keep': '',
  });
  server = await createFtpServer({ root, dataDir: data, port: 0, loginFailureDelayMs: 0 });
});

afterAll(async () => {
  await server?.close(500);
  await cleanup?.();
});

/** A command on a pseudo-terminal: type with `send`, wait for what it draws with `until`. */
class Pty {
  private readonly child: ChildProcess;
  private out = '';
  /** output before this offset has been matched already */
  private mark = 0;
  private waiter: (() => void) | undefined;
  readonly exited: Promise<number | null>;

  constructor(command: string, cwd: string) {
    // `exec`: script runs the command with $SHELL -c (dash where SHELL is unset), and dash stays
    // in the terminal's foreground group and dies of the Ctrl-C meant for the shell under test
    this.child = spawn('script', ['-qec', `exec ${command}`, '/dev/null'], {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const take = (d: Buffer) => {
      this.out += d.toString();
      this.waiter?.();
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Resolve with the output up to the first match of `re` after what was matched before. */
  until(re: RegExp, timeoutMs = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(
          new Error(`no ${re} within ${timeoutMs} ms in:\n${JSON.stringify(this.out.slice(this.mark))}`),
        );
      }, timeoutMs);
      const check = () => {
        const rest = this.out.slice(this.mark);
        const m = re.exec(rest);
        if (!m) return;
        clearTimeout(timer);
        this.waiter = undefined;
        this.mark += m.index + m[0].length;
        resolve(rest.slice(0, m.index + m[0].length));
      };
      this.waiter = check;
      check();
    });
  }

  send(keys: string): void {
    this.child.stdin!.write(keys);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

const PROMPT = /ftp> /;
const shellCommand = (url: string) => `"${process.execPath}" "${CLI}" ftp shell '${url}'`;

describe('netkit ftp shell on a terminal', () => {
  it('prompts, asks for a password without echo, completes remote names with TAB, recalls history, and bye exits 0', async () => {
    expect(await have('script')).toBe(true);
    const { dir: work, cleanup: done } = await tempDir('netkit-ftpshell-work-');
    const pty = new Pty(`"${process.execPath}" "${CLI}" ftp shell`, work);
    try {
      await pty.until(PROMPT);
      pty.send(`open 127.0.0.1 ${server.port}\r`);
      await pty.until(new RegExp(`Connected to 127\\.0\\.0\\.1:${server.port} as anonymous\\.`));
      await pty.until(PROMPT);
      // user asks for the password without echoing it
      pty.send('user dave\r');
      await pty.until(/Password for dave@127\.0\.0\.1: /);
      pty.send(`${PW}\r`);
      const login = await pty.until(new RegExp(`Logged in to 127\\.0\\.0\\.1:${server.port} as dave\\.`));
      expect(login).not.toContain(PW);
      await pty.until(PROMPT);
      // a directory: `cd re` + TAB → `cd reports/` (only directories are offered to cd)
      pty.send('cd re\t');
      await pty.until(/ports\//);
      pty.send('\r');
      await pty.until(PROMPT);
      // a file name with a blank, completed escaped: `get rep` + TAB → `get report\ 2024.txt `
      pty.send('get rep\t');
      await pty.until(/ort\\ 2024\.txt /);
      pty.send('\r');
      const transfer = await pty.until(/saved report 2024\.txt \(18 B in /);
      // the progress bar is drawn on a terminal
      expect(transfer).toContain('report 2024.txt [########################] 100% 18 B/18 B');
      await pty.until(PROMPT);
      expect(await readFile(path.join(work, 'report 2024.txt'), 'utf8')).toBe('the annual report\n');
      // two candidates: TAB lists them both
      pty.send('get \t\t');
      await pty.until(/report\\ 2024\.txt\s+summary\.txt/);
      pty.send('\u0015pwd\r');
      await pty.until(/\/reports\r?\n/);
      await pty.until(PROMPT);
      // Up recalls the last command
      pty.send('\u001b[A\r');
      await pty.until(/ftp> pwd[^\n]*\n\/reports\r?\n/);
      await pty.until(PROMPT);
      // Ctrl-C at the prompt drops the line and prompts again
      pty.send('delete summary.txt\u0003');
      await pty.until(/\^C\r?\n/);
      await pty.until(PROMPT);
      pty.send('bye\r');
      expect(await pty.exited).toBe(0);
      expect((await stat(path.join(base, 'ftp/home/dave/reports/summary.txt'))).size).toBe(6);
    } finally {
      pty.kill();
      await done();
    }
  }, 30_000);

  it('Ctrl-C cancels a stalled download, keeps the part file for reget, and logs in again', async () => {
    const body = pattern(100_000, 21);
    const fake = await fakeFtp({ files: { 'stall.bin': body }, stall: { name: 'stall.bin', at: 50_000 } });
    const { dir: work, cleanup: done } = await tempDir('netkit-ftpshell-work-');
    const pty = new Pty(shellCommand(`ftp://eve:pw@127.0.0.1:${fake.port}/`), work);
    try {
      await pty.until(PROMPT);
      pty.send('get stall.bin\r');
      // the bar shows half the file has arrived, then nothing more comes
      await pty.until(/48\.8 KiB\/97\.7 KiB/);
      pty.send('\u0003');
      await pty.until(/interrupted: stall\.bin\.part kept \(48\.8 KiB\); "reget stall\.bin" resumes/);
      await pty.until(PROMPT);
      const part = await readFile(path.join(work, 'stall.bin.part'));
      expect(sha256(part)).toBe(sha256(body.subarray(0, 50_000)));
      // logged in again: a second USER, and the shell still answers
      expect(fake.commands.filter((c) => c.startsWith('USER '))).toEqual(['USER eve', 'USER eve']);
      pty.send('size stall.bin\r');
      await pty.until(/stall\.bin\t100000/);
      pty.send('bye\r');
      expect(await pty.exited).toBe(0);
    } finally {
      pty.kill();
      await fake.close();
      await done();
    }
  }, 30_000);
});
