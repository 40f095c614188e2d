/**
 * tinyproxy (Debian `tinyproxy`) as the independent HTTP proxy for our HTTP client and downloader:
 * it forwards absolute-form requests (adding `Via: 1.1 HOST (tinyproxy/…)` both ways) and tunnels
 * `CONNECT`, with optional Basic proxy authentication. tinyproxy cannot listen on port 0: a free
 * port is picked and polled until it accepts. It runs in the foreground (`-d`) and, with no log
 * file configured, logs to its standard output, which the handle collects.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, waitForPort } from '../../bench/_net.mjs';

export const TINYPROXY = '/usr/bin/tinyproxy';

export interface TinyproxyHandle {
  port: number;
  url: string;
  /** what tinyproxy logged so far (one line per request and connection event) */
  log(): string;
  stop(): Promise<void>;
}

export async function startTinyproxy(
  dir: string,
  opts: { auth?: { user: string; password: string } } = {},
): Promise<TinyproxyHandle> {
  const asRoot = process.getuid?.() === 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = path.join(dir, 'tinyproxy.conf');
    await writeFile(
      conf,
      [
        `Port ${port}`,
        'Listen 127.0.0.1',
        'Timeout 30',
        'Allow 127.0.0.1',
        'MaxClients 64',
        'LogLevel Info',
        ...(asRoot ? ['User nobody', 'Group nogroup'] : []),
        ...(opts.auth ? [`BasicAuth ${opts.auth.user} ${opts.auth.password}`] : []),
        '',
      ].join('\n'),
    );
    const child: ChildProcess = spawn(TINYPROXY, ['-d', '-c', conf], { stdio: ['ignore', 'pipe', 'ignore'] });
    let log = '';
    child.stdout!.on('data', (d: Buffer) => {
      log += d.toString();
    });
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    if (await waitForPort(port, { gaveUp: () => exited, pid: child.pid })) {
      const handle: TinyproxyHandle = {
        port,
        url: `http://127.0.0.1:${port}`,
        log: () => log,
        stop: () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      };
      return handle;
    }
    child.kill('SIGKILL');
  }
  throw new Error('tinyproxy did not start');
}
