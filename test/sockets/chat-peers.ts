/** The chat tests' command-line peers (nc, ncat, openssl s_client, python, our own CLI) as child processes. */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';

/** A child process whose stdout (and stderr) we can wait on line by line. */
export class Proc {
  readonly child: ChildProcessWithoutNullStreams;
  readonly out: string[] = [];
  readonly err: string[] = [];
  private waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;

  constructor(cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const collect = (stream: NodeJS.ReadableStream, into: string[]) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => {
        buf += d;
        let i = buf.indexOf('\n');
        while (i !== -1) {
          into.push(buf.slice(0, i).replace(/\r$/, ''));
          buf = buf.slice(i + 1);
          i = buf.indexOf('\n');
        }
        for (const w of this.waiters.splice(0)) w();
      });
    };
    collect(this.child.stdout, this.out);
    collect(this.child.stderr, this.err);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.child.on('exit', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Wait until a line on stdout (or stderr) matches. */
  async waitFor(re: RegExp, stream: 'out' | 'err' = 'out', timeoutMs = 8000): Promise<string> {
    const lines = stream === 'out' ? this.out : this.err;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = lines.find((l) => re.test(l));
      if (hit !== undefined) return hit;
      if (this.child.exitCode !== null)
        throw new Error(
          `process exited before ${re}; stdout: ${this.out.join('|')}; stderr: ${this.err.join('|')}`,
        );
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${re}; got: ${lines.join(' | ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  send(text: string): void {
    this.child.stdin.write(text);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
