/**
 * Start Dovecot's POP3 server (Debian `dovecot-pop3d`, `/usr/sbin/dovecot`) over one Maildir, on
 * free loopback ports, from a configuration written to a temporary directory — the independent
 * POP3 peer for interop tests and the `pop3` benchmark.
 *
 *   const dv = await startDovecot({ maildir });        // deliver messages first (see below)
 *   // POP3 on 127.0.0.1:dv.port, any user name, password dv.password ("pass")
 *   await dv.stop();
 *
 * How it runs:
 * - `dovecot -F -c CONF` in the foreground as a child process (no daemon, nothing in /etc or
 *   /var touched): base_dir, state_dir and the log live in the temporary directory; static passdb
 *   (any user, one password), static userdb pointing at the Maildir; `pop3_uidl_format = %f`, so
 *   Dovecot's UIDLs are the Maildir unique names — the same UIDs netkit's server reports.
 * - As root, Dovecot refuses to open mail as uid 0, so the mail process runs as `nobody`: the
 *   helper hands the Maildir to nobody (chown -R) and chroots the mail process into it, so the
 *   directories above it (e.g. a 0700 temp dir) need no change. Files written into the Maildir
 *   after start-up as root must be handed over too: call `dv.sync()` after delivering more.
 * - As an ordinary user everything runs as that user (login, auth and mail processes).
 * - `tls: {cert, key}` (PEM text) turns on STLS on the plain port and adds an implicit-TLS port.
 *
 * If the binary is missing this throws (interop tests must fail, not skip).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './_net.mjs';
export const DOVECOT_BIN = '/usr/sbin/dovecot';
const NOBODY = 65534;
/**
 * The dovecot.conf text (Dovecot 2.3 syntax). Pure, so it can be inspected.
 * @param {import('./_dovecot.d.mts').DovecotConfigInput} c
 * @returns {string}
 */
export function dovecotConfig(c) {
  const lines = [
    `base_dir = ${c.dir}/run`,
    `state_dir = ${c.dir}/state`,
    `log_path = ${c.dir}/dovecot.log`,
    `instance_name = netkit-${path.basename(c.dir)}`,
    'protocols = pop3',
    'listen = 127.0.0.1',
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain',
    'pop3_uidl_format = %f',
    'mail_fsync = never',
  ];
  if (c.tls) {
    lines.push('ssl = yes', `ssl_cert = <${c.tls.certFile}`, `ssl_key = <${c.tls.keyFile}`);
  } else {
    lines.push('ssl = no');
  }
  lines.push('passdb {', '  driver = static', `  args = password=${c.password}`, '}');
  if (c.user.root) {
    // Mail as nobody, chrooted into the Maildir ("/./" marks the chroot point).
    lines.push(
      `valid_chroot_dirs = ${c.maildir}`,
      'userdb {',
      '  driver = static',
      `  args = uid=${NOBODY} gid=${NOBODY} home=${c.maildir}/./ mail=maildir:~/`,
      '}',
    );
  } else {
    lines.push(
      `default_login_user = ${c.user.name}`,
      `default_internal_user = ${c.user.name}`,
      `first_valid_uid = ${c.user.uid}`,
      'first_valid_gid = 0',
      'userdb {',
      '  driver = static',
      `  args = uid=${c.user.uid} gid=${c.user.gid} home=${c.maildir} mail=maildir:${c.maildir}`,
      '}',
      'service anvil {',
      '  chroot =',
      '}',
    );
  }
  lines.push('service pop3-login {');
  if (!c.user.root) lines.push('  chroot =');
  lines.push('  inet_listener pop3 {', '    address = 127.0.0.1', `    port = ${c.port}`, '  }');
  if (c.tlsPort !== undefined) {
    lines.push(
      '  inet_listener pop3s {',
      '    address = 127.0.0.1',
      `    port = ${c.tlsPort}`,
      '    ssl = yes',
      '  }',
    );
  }
  lines.push('}');
  if (c.extraConfig) lines.push(c.extraConfig);
  return `${lines.join('\n')}\n`;
}
// Dovecot binds the port itself; start-up retries on a clash
export { freePort };

async function chownTree(dir, uid, gid) {
  await chown(dir, uid, gid);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, uid, gid);
    else await chown(p, uid, gid).catch(() => {});
  }
}
/**
 * Wait until Dovecot greets on the port. The greeting must be Dovecot's own: the port came from
 * freePort(), so until Dovecot binds it another process (a parallel test's server on port 0) may
 * hold it, and its `+OK` must not pass for Dovecot's. Dovecot binds every listener before it
 * greets on any, so its greeting also means the TLS port is its own.
 */
function waitForGreeting(port, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    let exited = false;
    const onExit = () => {
      exited = true;
    };
    child.once('exit', onExit);
    const attempt = () => {
      if (exited) return reject(new Error(`dovecot exited during start-up (code ${child.exitCode})`));
      if (Date.now() > deadline) return reject(new Error(`dovecot did not greet within ${timeoutMs} ms`));
      const s = net.connect(port, '127.0.0.1');
      let buf = '';
      let settled = false;
      const retry = () => {
        s.destroy();
        if (settled) return; // error and timeout may both fire: one retry per attempt
        settled = true;
        setTimeout(attempt, 50);
      };
      s.on('data', (d) => {
        buf += d.toString();
        if (buf.includes('\n') && !settled) {
          if (/^\+OK Dovecot/.test(buf)) {
            settled = true;
            s.destroy();
            child.off('exit', onExit);
            resolve();
          } else retry();
        }
      });
      s.on('error', retry);
      s.setTimeout(2000, retry);
    };
    attempt();
  });
}
/**
 * Start Dovecot over `opts.maildir`; see the module comment.
 * @param {import('./_dovecot.d.mts').DovecotOptions} opts
 * @returns {Promise<import('./_dovecot.d.mts').DovecotHandle>}
 */
export async function startDovecot(opts) {
  if (!existsSync(DOVECOT_BIN)) {
    throw new Error(`${DOVECOT_BIN} not found: install Debian's dovecot-pop3d`);
  }
  const maildir = path.resolve(opts.maildir);
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(maildir, sub), { recursive: true });
  const password = opts.password ?? 'pass';
  const root = process.getuid?.() === 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'netkit-dovecot-'));
  const sync = async () => {
    if (root) await chownTree(maildir, NOBODY, NOBODY);
  };
  await sync();
  let tlsFiles;
  if (opts.tls) {
    tlsFiles = { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') };
    await writeFile(tlsFiles.certFile, opts.tls.cert);
    await writeFile(tlsFiles.keyFile, opts.tls.key, { mode: 0o600 });
  }
  const info = os.userInfo();
  const user = root ? { root: true } : { root: false, name: info.username, uid: info.uid, gid: info.gid };
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const tlsPort = opts.tls ? await freePort() : undefined;
    const conf = path.join(dir, 'dovecot.conf');
    await writeFile(
      conf,
      dovecotConfig({
        dir,
        maildir,
        port,
        tlsPort,
        password,
        user,
        tls: tlsFiles,
        extraConfig: opts.extraConfig,
      }),
    );
    const child = spawn(DOVECOT_BIN, ['-F', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d.toString();
    });
    child.stderr.on('data', (d) => {
      output += d.toString();
    });
    const exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const log = async () => {
      const file = await readFile(path.join(dir, 'dovecot.log'), 'utf8').catch(() => '');
      return `${output}${file}`;
    };
    const stopChild = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    };
    try {
      await waitForGreeting(port, child, opts.startTimeoutMs ?? 15_000);
      if (tlsPort !== undefined) await waitForListening(tlsPort, child, opts.startTimeoutMs ?? 15_000);
    } catch (err) {
      await stopChild();
      lastError = new Error(`${err.message}\n${await log()}`);
      if (/in use/i.test(await log())) continue;
      break;
    }
    return {
      host: '127.0.0.1',
      port,
      tlsPort,
      password,
      dir,
      log,
      sync,
      stop: async () => {
        await stopChild();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}
/** The TLS port greets only after a handshake; a successful TCP connect is enough here. */
async function waitForListening(port, child, timeoutMs) {
  if (await waitForPort(port, { ms: timeoutMs, gaveUp: () => child.exitCode !== null, pid: child.pid }))
    return;
  throw new Error(
    child.exitCode !== null
      ? 'dovecot exited during start-up'
      : `dovecot TLS port not open within ${timeoutMs} ms`,
  );
}
