/**
 * TLS material for every server: a real certificate from `--cert`/`--key`, or a self-signed
 * development certificate generated on first use and cached in the data directory (so clients
 * that pin it keep working across restarts). The key file is written mode 0600.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type tls from 'node:tls';
import { ensureDir } from './datadir.js';
import { NetkitError } from './errors.js';
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
    return material(cert, key);
  }
  const certPath = path.join(dataDir, 'tls', 'dev-cert.pem');
  const keyPath = path.join(dataDir, 'tls', 'dev-key.pem');
  try {
    const cert = await readFile(certPath, 'utf8');
    if (expiresSoon(cert)) throw new Error('renew');
    return material(cert, await readFile(keyPath, 'utf8'));
  } catch {
    // missing, unreadable or near its end: generate below
  }
  const { cert, key } = await generateDevCertificate();
  await ensureDir(path.dirname(certPath), 0o700);
  await atomicWrite(keyPath, key, 0o600);
  await atomicWrite(certPath, cert, 0o644);
  return material(cert, key);
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

async function atomicWrite(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, file);
}
