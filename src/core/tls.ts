/**
 * TLS material for every server: a real certificate from `--cert`/`--key`, or a self-signed
 * development certificate generated on first use and cached in the data directory (so clients
 * that pin it keep working across restarts). The key file is written mode 0600.
 *
 * Several servers may start at once on a fresh data directory (`netkit pop3 serve & netkit smtp
 * serve &`), and each must end up serving the one pair on disk, or clients that trust
 * `DATA/tls/dev-cert.pem` fail against the others. So the pair is only ever created or replaced
 * holding the lock file `DATA/tls/dev-cert.pem.lock` ({@link withFileLock}: a lock left by a
 * creator that crashed is broken once its pid is gone). A loader first reads the pair without the
 * lock (the common case: it exists); if a file is missing, unreadable, the two do not belong
 * together, or the certificate is near its end, it takes the lock and looks again, since another
 * process may have created the pair meanwhile; only if the pair is still unusable under the lock
 * does it generate one. Within the lock the pair is written to temporary files, fsynced, renamed
 * into place and the directory fsynced, so a pair on disk is whole and from one process.
 *
 * A lone `dev-cert.pem` or `dev-key.pem` (a creator killed between its two renames, or a person
 * deleting one file) is unusable on its own: under the lock it is replaced by a new pair, never
 * while anyone else may be creating one.
 */
import { readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type tls from 'node:tls';
import { ensureDir, TLS_DIR, writeNewSynced } from './datadir.js';
import { fsyncDir } from './dir-sync.js';
import { NetkitError } from './errors.js';
import { withFileLock } from './file-lock.js';
import { nodeCrypto, nodeTls } from './lazy.js';

export interface TlsFiles {
  cert?: string;
  key?: string;
}

export interface TlsMaterial {
  cert: string;
  key: string;
  /** a ready SecureContext for in-session upgrades (STARTTLS, STLS, AUTH TLS) */
  context: tls.SecureContext;
  /** options for `tls.createServer` (implicit TLS listeners) */
  options: tls.SecureContextOptions;
  /**
   * the `--cert`/`--key` files it was read from (undefined for the development pair, which lives
   * in the data directory): a file server must never serve them, the key above all
   */
  files?: { cert: string; key: string };
}

const inflight = new Map<string, Promise<TlsMaterial>>();

/** Load `--cert`/`--key`, or the cached dev certificate in `dataDir`, creating it when missing. */
export function loadTls(dataDir: string, files: TlsFiles = {}): Promise<TlsMaterial> {
  const key = `${dataDir}\u0000${files.cert ?? ''}\u0000${files.key ?? ''}`;
  let p = inflight.get(key);
  if (!p) {
    p = load(dataDir, files);
    inflight.set(key, p);
    p.catch(() => inflight.delete(key));
  }
  return p;
}

async function load(dataDir: string, files: TlsFiles): Promise<TlsMaterial> {
  if (files.cert || files.key) {
    if (!files.cert || !files.key) throw new Error('--cert and --key must be given together');
    const cert = await readFile(files.cert, 'utf8');
    const key = await readFile(files.key, 'utf8');
    checkPair(cert, key, files.cert, files.key);
    return { ...material(cert, key), files: { cert: files.cert, key: files.key } };
  }
  return devCertificate(path.join(dataDir, TLS_DIR));
}

const DEV_CERT = 'dev-cert.pem';
const DEV_KEY = 'dev-key.pem';

/**
 * How long a loader waits for another process that is creating the pair. Generating an EC key
 * takes milliseconds; the margin is for a loaded machine, and a crashed creator's lock is broken
 * at once anyway.
 */
const DEV_CERT_LOCK_TIMEOUT_MS = 60_000;

/** The development pair in `tlsDir`, created (see the module comment) when there is no usable one. */
async function devCertificate(tlsDir: string): Promise<TlsMaterial> {
  const existing = await readDevPair(tlsDir);
  if (existing) return material(existing.cert, existing.key);
  await ensureDir(tlsDir, 0o700);
  const { cert, key } = await withFileLock(
    path.join(tlsDir, DEV_CERT),
    async () => {
      // another process may have created it while we waited for the lock
      const created = await readDevPair(tlsDir);
      if (created) return created;
      const pair = await generateDevCertificate();
      await publishDevPair(tlsDir, pair);
      return pair;
    },
    { timeoutMs: DEV_CERT_LOCK_TIMEOUT_MS },
  );
  return material(cert, key);
}

/**
 * The pair on disk if it is usable: both files readable, a certificate and the private key of it,
 * not within {@link DEV_CERT_RENEW_MS} of its end. Read without the lock it may be half of a pair
 * being replaced (the renewal of an expiring one): that is not usable either, and the caller
 * looks again under the lock.
 */
async function readDevPair(tlsDir: string): Promise<{ cert: string; key: string } | undefined> {
  try {
    const cert = await readFile(path.join(tlsDir, DEV_CERT), 'utf8');
    const key = await readFile(path.join(tlsDir, DEV_KEY), 'utf8');
    const { X509Certificate, createPrivateKey } = nodeCrypto();
    const x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) return undefined;
    if (expiresSoon(cert)) return undefined;
    return { cert, key };
  } catch {
    return undefined; // missing, unreadable or not PEM
  }
}

/** Temporary files of a publish, `.dev-cert.pem.PID.RANDOM.tmp`: a crashed creator's are removed. */
const DEV_TMP = /^\.dev-(cert|key)\.pem\.[^/]*\.tmp$/;

/**
 * Write the pair into place; the caller holds the lock. Both files are written and fsynced under
 * temporary names first, so that the only window in which the pair on disk is not whole is
 * between the two renames (a crash there leaves a mismatch, which the next loader replaces).
 */
async function publishDevPair(tlsDir: string, pair: { cert: string; key: string }): Promise<void> {
  // nobody else writes here while we hold the lock: temporary files are a crashed creator's
  for (const name of await readdir(tlsDir).catch(() => [] as string[]))
    if (DEV_TMP.test(name)) await rm(path.join(tlsDir, name), { force: true });
  const unique = `${process.pid}.${Math.random().toString(36).slice(2, 10)}`;
  const keyTmp = path.join(tlsDir, `.${DEV_KEY}.${unique}.tmp`);
  const certTmp = path.join(tlsDir, `.${DEV_CERT}.${unique}.tmp`);
  try {
    await writeNewSynced(keyTmp, pair.key, 0o600);
    await writeNewSynced(certTmp, pair.cert, 0o644);
    await rename(keyTmp, path.join(tlsDir, DEV_KEY));
    await rename(certTmp, path.join(tlsDir, DEV_CERT));
  } catch (err) {
    await rm(keyTmp, { force: true }).catch(() => {});
    await rm(certTmp, { force: true }).catch(() => {});
    throw err;
  }
  // some platforms (Windows) cannot open a directory for fsync; the renames are done either way
  await fsyncDir(tlsDir).catch(() => {});
}

/** A generated certificate is replaced this long before it expires (a lab left running for years). */
export const DEV_CERT_RENEW_MS = 7 * 24 * 3600 * 1000;

/** Whether a PEM certificate is past, or within {@link DEV_CERT_RENEW_MS} of, its notAfter. */
export function expiresSoon(certPem: string, now = Date.now()): boolean {
  const { X509Certificate } = nodeCrypto();
  return new Date(new X509Certificate(certPem).validTo).getTime() - now < DEV_CERT_RENEW_MS;
}

/** A self-signed certificate for localhost / 127.0.0.1 / ::1, valid for two years. */
export async function generateDevCertificate(): Promise<{ cert: string; key: string }> {
  const { generate } = await import('selfsigned');
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + 2 * 365 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: notBefore,
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  } as never);
  return { cert: pems.cert, key: pems.private };
}

/**
 * A certificate and key that do not parse, or do not belong together, are a one-line error naming
 * the files. OpenSSL's own words ("DECODER routines::unsupported") name neither, and a key of
 * another type than the certificate's (an RSA key for an EC certificate) is not noticed at all
 * until every handshake fails.
 */
function checkPair(cert: string, key: string, certFile: string, keyFile: string): void {
  const { X509Certificate, createPrivateKey } = nodeCrypto();
  let x509: import('node:crypto').X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new NetkitError('NETKIT_INVALID_INPUT', `--cert ${certFile}: not a PEM certificate`);
  }
  let privateKey: import('node:crypto').KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new NetkitError('NETKIT_INVALID_INPUT', `--key ${keyFile}: not a PEM private key`);
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `--key ${keyFile} is not the private key of the certificate in --cert ${certFile}`,
    );
}

/**
 * What every netkit TLS server offers: TLS 1.2 or later, and no client-initiated renegotiation. A
 * TLS 1.2 client may otherwise ask for a full handshake (the server's costliest step) on one
 * connection again and again; nginx and Go refuse it too, and no protocol here needs it.
 */
export function serverTlsOptions(cert: string, key: string): tls.SecureContextOptions {
  return {
    cert,
    key,
    minVersion: 'TLSv1.2',
    secureOptions: nodeCrypto().constants.SSL_OP_NO_RENEGOTIATION,
  };
}

function material(cert: string, key: string): TlsMaterial {
  const options = serverTlsOptions(cert, key);
  return { cert, key, options, context: nodeTls().createSecureContext(options) };
}
