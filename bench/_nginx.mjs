// Start Debian's nginx unprivileged on a free loopback port, serving one directory, from a config
// written to a temp dir. Shared by the download tests (test/helpers/nginx.ts re-exports it) and
// bench/download.mjs, so both drive the peer the same way.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './_net.mjs';

/**
 * @param {{root: string, serverExtra?: string, listen?: string, bin?: string}} opts  `serverExtra` is
 *   pasted into the `server {}` block (e.g. `limit_rate 20m;`), `listen` after the listen address
 *   (e.g. `ssl http2` for nginx 1.22, with `ssl_certificate …;` in serverExtra; the URL is then https).
 */
export async function startNginx(opts) {
  const bin = opts.bin ?? 'nginx';
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'netkit-nginx-'));
  let lastError = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = path.join(tmp, 'nginx.conf');
    await writeFile(
      conf,
      `daemon off; master_process off; pid ${tmp}/nginx.pid; error_log ${tmp}/error.log;
events {}
http {
  access_log off; client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp};
  uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  default_type application/octet-stream;
  server { listen 127.0.0.1:${port} ${opts.listen ?? ''}; root ${path.resolve(opts.root)}; ${opts.serverExtra ?? ''} }
}
`,
    );
    const child = spawn(bin, ['-p', tmp, '-c', conf, '-e', `${tmp}/error.log`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d.toString();
    });
    let exited = false;
    const exit = new Promise((resolve) =>
      child.once('close', () => {
        exited = true;
        resolve();
      }),
    );
    child.once('error', (err) => {
      stderr += String(err);
    });
    // nginx prints nothing when it is ready: wait for the port to accept, or for nginx to exit.
    if (await waitForPort(port, { ms: 5000, gaveUp: () => exited, pid: child.pid })) {
      return {
        port,
        url: `${/\bssl\b/.test(opts.listen ?? '') ? 'https' : 'http'}://127.0.0.1:${port}/`,
        pid: child.pid,
        async stop() {
          if (!exited) {
            child.kill('SIGTERM');
            await exit;
          }
          await rm(tmp, { recursive: true, force: true });
        },
      };
    }
    if (!exited) {
      child.kill('SIGKILL');
      await exit;
    }
    const log = await readFile(path.join(tmp, 'error.log'), 'utf8').catch(() => '');
    lastError = `${stderr}${log}`.trim();
    if (!/in use/i.test(lastError)) break;
  }
  await rm(tmp, { recursive: true, force: true });
  throw new Error(`nginx did not start: ${lastError || 'no output'}`);
}
