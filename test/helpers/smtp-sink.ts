/**
 * Postfix's smtp-sink (Debian `postfix`) as a test peer for our SMTP client: it accepts every
 * message and, with `-d`, dumps each one (with X-Rcpt-Args / X-Mail-Args headers describing the
 * envelope) into a file of its own. smtp-sink cannot listen on port 0 and report the port, and prints
 * nothing when ready: a free port is picked and the port is polled until it accepts (another
 * process taking the port in between makes smtp-sink exit, and the next port is tried).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import { freePort, waitForPort } from '../../bench/_net.mjs';

export const SMTP_SINK = '/usr/sbin/smtp-sink';

export interface SmtpSinkHandle {
  port: number;
  stop(): Promise<void>;
}

/**
 * Start smtp-sink dumping every message into `dumpDir` (made world-writable: as root it runs as
 * nobody). `flags`: more smtp-sink options, e.g. `['-8']` (no 8BITMIME in the EHLO reply).
 */
export async function startSmtpSink(dumpDir: string, flags: string[] = []): Promise<SmtpSinkHandle> {
  await chmod(dumpDir, 0o777);
  const asRoot = process.getuid?.() === 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(
      SMTP_SINK,
      [...(asRoot ? ['-u', 'nobody'] : []), ...flags, '-d', `${dumpDir}/%M.`, `127.0.0.1:${port}`, '64'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    // smtp-sink prints nothing when ready: wait for the port to accept (or the process to exit)
    if (await waitForPort(port, { gaveUp: () => exited, pid: child.pid })) {
      return {
        port,
        stop: () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      };
    }
    child.kill('SIGKILL');
  }
  throw new Error('smtp-sink did not start');
}
