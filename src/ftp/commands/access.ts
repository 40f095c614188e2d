/**
 * Access control commands: USER, PASS, ACCT, QUIT (RFC 959) and AUTH, PBSZ, PROT (RFC 2228 /
 * RFC 4217 explicit TLS). Failed logins are slowed down and counted per IP by the LoginGuard;
 * `requireTls` refuses logins before AUTH TLS (530) and PROT C (534). Without it, an account's USER
 * from a non-loopback client is still refused (530) until AUTH TLS, unless `allowPlaintext`: the
 * rule POP3 and SMTP follow for passwords (anonymous logins carry none and are always allowed). An unreadable or corrupt
 * accounts file answers PASS with 421 and closes (a temporary server error, not "Login incorrect").
 *
 * AUTH TLS forgets a USER given before it (RFC 2228: after AUTH the user logs in again), as the
 * plaintext lines pipelined after it are dropped (core/connection.ts): nothing said in the clear
 * carries into the TLS session.
 *
 * On the implicit-TLS port the control connection is secure from the first byte: AUTH is answered
 * 503 as a second AUTH is (ProFTPD refuses a second AUTH too, and an AUTH TLS handshake inside TLS
 * would make no sense), PBSZ and PROT work as after AUTH TLS, and PROT starts at P.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { plaintextAllowed } from '../../core/address.js';
import { authenticate, isAnonymousName } from '../accounts.js';
import type { CommandSpec } from '../session.js';

export const accessCommands: Record<string, CommandSpec> = {
  USER: {
    auth: false,
    needsArg: true,
    help: 'USER <name>',
    run(s, arg) {
      if (s.identity) {
        s.reply(503, `Already logged in as ${s.identity.user}`);
        return;
      }
      if (s.ctx.requireTls && !s.secure) {
        s.reply(530, 'TLS required: send AUTH TLS before logging in');
        return;
      }
      const name = arg.trim();
      if (
        !isAnonymousName(name) &&
        !plaintextAllowed({ secure: s.secure, remoteAddress: s.ip, allowPlaintext: s.ctx.allowPlaintext })
      ) {
        // refused at USER, as vsftpd's force_local_logins_ssl does: the password is never sent
        s.reply(
          530,
          s.ctx.tls
            ? 'Non-anonymous logins need TLS from this address: send AUTH TLS first'
            : 'Non-anonymous logins need TLS from this address, and this server has none (its operator can allow plaintext)',
        );
        return;
      }
      if (isAnonymousName(name) && s.ctx.policy.anonymous === false) {
        s.reply(530, 'Anonymous logins are disabled on this server');
        return;
      }
      s.pendingUser = name;
      if (isAnonymousName(name)) s.reply(331, 'Anonymous login ok, send your e-mail address as password');
      else s.reply(331, `Password required for ${name}`);
    },
  },

  PASS: {
    auth: false,
    help: 'PASS <password>',
    async run(s, arg) {
      if (s.identity) {
        s.reply(503, `Already logged in as ${s.identity.user}`);
        return;
      }
      const name = s.pendingUser;
      if (name === undefined) {
        s.reply(503, 'Send USER first');
        return;
      }
      s.pendingUser = undefined;
      const { guard } = s.ctx;
      const locked = guard.lockedFor(s.ip);
      if (locked > 0) {
        s.close(421, `Too many failed logins from your address; try again in ${Math.ceil(locked / 1000)} s`);
        return;
      }
      const result = await authenticate(s.ctx.store, name, arg, s.ctx.policy, s.ctx.perms);
      if (!result.ok && result.reason === 'unavailable') {
        // RFC 959 §5.4: 421 is PASS's only transient reply. Not the client's fault, so no failure
        // is counted; the reason (file and line) goes to the trace and the server's 'warning' event.
        s.warn(`accounts unavailable: ${result.error}`);
        s.close(421, 'Cannot check credentials now (server error), try again later');
        return;
      }
      if (result.ok) {
        guard.recordSuccess(s.ip);
        s.identity = result.identity;
        s.cwd = result.identity.home;
        s.emit('login');
        if (result.identity.class === 'anonymous')
          s.reply(230, 'Anonymous access granted, restrictions apply');
        else s.reply(230, `User ${result.identity.user} logged in (${result.identity.class} account)`);
        return;
      }
      const lockedNow = guard.recordFailure(s.ip);
      if (guard.failureDelayMs > 0) await delay(guard.failureDelayMs);
      if (lockedNow) {
        s.close(
          421,
          `Too many failed logins from your address; locked out for ${Math.ceil(guard.lockoutMs / 1000)} s`,
        );
        return;
      }
      if (result.reason === 'expired') s.reply(530, 'Login incorrect: this account has expired');
      else if (result.reason === 'anonymous-disabled')
        s.reply(530, 'Anonymous logins are disabled on this server');
      else s.reply(530, 'Login incorrect');
    },
  },

  ACCT: {
    auth: false,
    help: 'ACCT <account>',
    run(s) {
      s.reply(202, 'ACCT not needed on this server');
    },
  },

  QUIT: {
    auth: false,
    help: 'QUIT',
    run(s) {
      s.close(221, 'Goodbye');
    },
  },

  AUTH: {
    auth: false,
    needsArg: true,
    help: 'AUTH TLS',
    async run(s, arg) {
      const mech = arg.trim().toUpperCase();
      if (!['TLS', 'TLS-C', 'SSL'].includes(mech)) {
        s.reply(504, `AUTH ${mech} not supported: use AUTH TLS`);
        return;
      }
      if (!s.ctx.tls) {
        s.reply(502, 'TLS is not configured on this server');
        return;
      }
      if (s.secure) {
        s.reply(
          503,
          s.implicitTls ? 'Already using TLS (implicit FTPS port): no AUTH needed' : 'Already using TLS',
        );
        return;
      }
      if (s.identity) {
        s.reply(503, 'AUTH must come before login');
        return;
      }
      // RFC 2228: an accepted AUTH requires the user to log in again; a USER sent in the clear
      // (possibly by someone on the path) must not carry over into the TLS session
      s.pendingUser = undefined;
      s.reply(234, `AUTH ${mech} successful`);
      await s.secureControl().catch(() => {
        // the connection reports and closes itself
      });
    },
  },

  PBSZ: {
    auth: false,
    needsArg: true,
    help: 'PBSZ 0',
    run(s, arg) {
      if (!s.secure) {
        s.reply(503, 'PBSZ requires AUTH TLS first');
        return;
      }
      if (!/^\d+$/.test(arg.trim())) {
        s.reply(501, 'PBSZ needs a number');
        return;
      }
      s.pbszDone = true;
      s.reply(200, 'PBSZ=0');
    },
  },

  PROT: {
    auth: false,
    needsArg: true,
    help: 'PROT C|P',
    run(s, arg) {
      if (!s.secure) {
        s.reply(503, 'PROT requires AUTH TLS first');
        return;
      }
      if (!s.pbszDone) {
        s.reply(503, 'PROT requires PBSZ first');
        return;
      }
      const level = arg.trim().toUpperCase();
      if (level === 'P') {
        s.prot = 'P';
        s.reply(200, 'Protection level set to P (data connections use TLS)');
      } else if (level === 'C') {
        if (s.ctx.requireTls) {
          s.reply(534, 'PROT P required: this server only transfers data over TLS');
          return;
        }
        s.prot = 'C';
        s.reply(200, 'Protection level set to C (data connections in clear)');
      } else if (level === 'S' || level === 'E') {
        s.reply(536, `Protection level ${level} not supported: use C or P`);
      } else {
        s.reply(504, `Unknown protection level ${level}`);
      }
    },
  },
};
