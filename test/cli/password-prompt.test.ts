import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeFor, InterruptedError, type PasswordIo, readPassword } from '../../src/cli/util.js';
import { NetkitError } from '../../src/core/errors.js';
import { CLI, run, tempDir } from '../helpers/net.js';

/** A fake terminal: a stream that says it is a TTY and records raw-mode switches. */
function fakeTty(isTTY = true) {
  const stdin = Object.assign(new PassThrough(), {
    isTTY,
    raw: [] as boolean[],
    setRawMode(mode: boolean) {
      stdin.raw.push(mode);
      return stdin;
    },
  });
  let written = '';
  const io: PasswordIo = {
    stdin,
    stderr: { write: (t: string) => (written += t) },
    env: {},
  };
  const listeners = () =>
    ['data', 'end', 'error'].reduce((n, e) => n + stdin.listenerCount(e), 0) +
    stdin.listenerCount('readable');
  return { stdin, io, written: () => written, listeners };
}

describe('readPassword on a (fake) terminal', () => {
  it('reads up to Enter with echo off, Backspace and Ctrl-U edit, UTF-8 split across reads', async () => {
    const t = fakeTty();
    const p = readPassword(undefined, 'Password: ', t.io);
    expect(t.written()).toBe('Password: ');
    t.stdin.write('wrong\u0015pä');
    const ae = Buffer.from('ß');
    t.stdin.write(ae.subarray(0, 1));
    t.stdin.write(Buffer.concat([ae.subarray(1), Buffer.from('xx\u007f\b!\r')]));
    expect(await p).toBe('päß!');
    expect(t.stdin.raw).toEqual([true, false]);
    expect(t.stdin.isPaused()).toBe(true);
    expect(t.listeners()).toBe(0);
    expect(t.written()).toBe('Password: \n');
  });

  it('Ctrl-D on an empty line is "no password given" (exit 2); on a non-empty line it is ignored', async () => {
    const t = fakeTty();
    const p = readPassword(undefined, 'Password: ', t.io);
    t.stdin.write('\u0004');
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetkitError);
    expect((err as Error).message).toBe('no password given');
    expect(exitCodeFor(err)).toBe(2);
    expect(t.stdin.raw).toEqual([true, false]);
    expect(t.listeners()).toBe(0);

    const u = fakeTty();
    const q = readPassword(undefined, 'Password: ', u.io);
    u.stdin.write('ab\u0004c\n');
    expect(await q).toBe('abc');
  });

  it('the terminal going away (end of input) is "no password given" too', async () => {
    const t = fakeTty();
    const p = readPassword(undefined, 'Password: ', t.io);
    t.stdin.end();
    await expect(p).rejects.toThrow('no password given');
    expect(t.stdin.raw).toEqual([true, false]);
    expect(t.listeners()).toBe(0);
  });

  it('Ctrl-C restores the terminal, leaves no listener and maps to exit 130', async () => {
    const t = fakeTty();
    const p = readPassword(undefined, 'Password: ', t.io);
    t.stdin.write('sec\u0003ret\r');
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(exitCodeFor(err)).toBe(130);
    expect(t.stdin.raw).toEqual([true, false]);
    expect(t.stdin.isPaused()).toBe(true);
    expect(t.listeners()).toBe(0);
  });

  it('refuses stdin that is not a terminal (as the docs promise), before writing a prompt', async () => {
    const t = fakeTty(false);
    const err = await readPassword(undefined, 'Password: ', t.io).catch((e: unknown) => e);
    expect(exitCodeFor(err)).toBe(2);
    expect((err as Error).message).toMatch(/^no password given: use --password or NETKIT_PASSWORD/);
    expect(t.written()).toBe('');
    expect(t.stdin.raw).toEqual([]);
    // the option and NETKIT_PASSWORD win without touching stdin
    expect(await readPassword('opt', 'x', t.io)).toBe('opt');
    expect(await readPassword(undefined, 'x', { ...t.io, env: { NETKIT_PASSWORD: 'env' } })).toBe('env');
  });
});

/**
 * Drive a command on a real pseudo-terminal (Python's pty module): wait for each `expect` text, then
 * type its `send`; returns everything the terminal showed, up to the end of the shell.
 */
const PTY_DRIVER = `
import json, os, pty, select, sys, time
cmd, steps = sys.argv[1], json.loads(sys.argv[2])
pid, fd = pty.fork()
if pid == 0:
    os.execvp('sh', ['sh', '-c', cmd])
out = b''
def read_some(deadline):
    global out
    r, _, _ = select.select([fd], [], [], max(0, deadline - time.time()))
    if not r:
        return False
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    if not data:
        return None
    out += data
    return True
for expect, send in steps:
    deadline = time.time() + 15
    while expect.encode() not in out:
        if not read_some(deadline):
            print(json.dumps({'output': out.decode('utf8', 'replace'), 'timeout': expect}))
            os.kill(pid, 9)
            sys.exit(0)
    os.write(fd, send.encode())
deadline = time.time() + 15
while read_some(deadline):
    pass
os.waitpid(pid, 0)
print(json.dumps({'output': out.decode('utf8', 'replace')}))
`;

describe('the password prompt on a real pseudo-terminal', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir('netkit-pty-'));
  });
  afterAll(() => cleanup());

  const onPty = async (steps: [string, string][]) => {
    // after netkit ends: its exit status, then whether echo and line editing are back on
    const cmd = `'${process.execPath}' '${CLI}' user add carol --data '${dir}'; echo "rc=$?"; stty -a`;
    const env = { NETKIT_PASSWORD: undefined, NO_COLOR: '1' };
    const r = await run('python3', ['-c', PTY_DRIVER, cmd, JSON.stringify(steps)], {
      env,
      timeoutMs: 40_000,
    });
    expect(r.stderr).toBe('');
    const res = JSON.parse(r.stdout) as { output: string; timeout?: string };
    expect(res.timeout, res.output).toBeUndefined();
    const terminal = res.output.split(/\brc=\d+/)[1] ?? '';
    return {
      output: res.output,
      rc: Number(/\brc=(\d+)/.exec(res.output)?.[1]),
      echoOn: /(^|\s)echo(\s|$)/m.test(terminal) && /(^|\s)icanon(\s|$)/m.test(terminal),
    };
  };

  it('Ctrl-C: exit 130, no error text, echo back on', async () => {
    const r = await onPty([['New password for carol: ', 'typed\u0003']]);
    expect(r.rc, r.output).toBe(130);
    expect(r.output).not.toContain('typed');
    expect(r.output).not.toContain('netkit:');
    expect(r.echoOn, r.output).toBe(true);
  });

  it('Ctrl-D on the empty prompt: one "no password given" line, exit 2, echo back on', async () => {
    const r = await onPty([['New password for carol: ', '\u0004']]);
    expect(r.rc, r.output).toBe(2);
    expect(r.output).toMatch(/New password for carol: \r?\nnetkit: no password given\r?\nrc=2/);
    expect(r.echoOn, r.output).toBe(true);
  });

  it('asks twice and adds the account, echoing nothing', async () => {
    const r = await onPty([
      ['New password for carol: ', 'pty-secret\r'],
      ['Retype the password: ', 'pty-secret\r'],
    ]);
    expect(r.rc, r.output).toBe(0);
    expect(r.output).toContain('added real account carol');
    expect(r.output).not.toContain('pty-secret');
  });
});
