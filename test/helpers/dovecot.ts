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
 *
 * The implementation lives in bench/_dovecot.mjs so that the `pop3` benchmark drives Dovecot
 * exactly as the tests do.
 */
export {
  DOVECOT_BIN,
  type DovecotConfigInput,
  type DovecotHandle,
  type DovecotOptions,
  dovecotConfig,
  freePort,
  startDovecot,
} from '../../bench/_dovecot.mjs';
