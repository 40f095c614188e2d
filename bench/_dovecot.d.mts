// Types for bench/_dovecot.mjs (Dovecot POP3 as a test and benchmark peer); see the module comment there.
export declare const DOVECOT_BIN: string;

export interface DovecotOptions {
  /** the Maildir to serve (`cur/ new/ tmp/` are created when missing) */
  maildir: string;
  /** the password every user name logs in with (default "pass") */
  password?: string;
  /** PEM certificate and key: enables STLS and an implicit-TLS (POP3S) listener */
  tls?: { cert: string; key: string };
  /** extra lines appended to dovecot.conf */
  extraConfig?: string;
  /** how long to wait for the greeting (default 15 s) */
  startTimeoutMs?: number;
}

export interface DovecotHandle {
  host: '127.0.0.1';
  /** plain POP3 port (STLS offered when `tls` was given) */
  port: number;
  /** implicit-TLS port, when `tls` was given */
  tlsPort: number | undefined;
  password: string;
  /** the temporary directory holding dovecot.conf, the log, base_dir and state_dir */
  dir: string;
  /** the Dovecot log so far (for assertion messages) */
  log(): Promise<string>;
  /** as root: hand files added to the Maildir since start-up to the mail user (no-op otherwise) */
  sync(): Promise<void>;
  /** stop Dovecot and remove the temporary directory */
  stop(): Promise<void>;
}

export interface DovecotConfigInput {
  dir: string;
  maildir: string;
  port: number;
  tlsPort?: number;
  password: string;
  /** run as root (mail process as nobody, chrooted) or as this user */
  user: { root: true } | { root: false; name: string; uid: number; gid: number };
  tls?: { certFile: string; keyFile: string };
  extraConfig?: string;
}

/** The dovecot.conf text (Dovecot 2.3 syntax). Pure, so it can be inspected. */
export declare function dovecotConfig(c: DovecotConfigInput): string;
/** A port that was free a moment ago. */
export declare function freePort(): Promise<number>;
/** Start Dovecot over `opts.maildir` on free loopback ports; throws when the binary is missing. */
export declare function startDovecot(opts: DovecotOptions): Promise<DovecotHandle>;
