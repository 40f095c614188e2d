/**
 * Which certificates a netkit client trusts: the system roots, plus the lab's own self-signed
 * development certificate when it is found in the data directory (`DATA/tls/dev-cert.pem`, written
 * by every netkit server on first TLS use), plus any `--ca` file. Pinning our own certificate keeps
 * verification on while `netkit mail send` / `netkit pop3 list` just work against the local lab;
 * `--insecure` (no verification) is only needed for a lab whose data directory is elsewhere.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import path from 'node:path';
import type { SecureContext } from 'node:tls';
import { NetkitError } from './errors.js';

/** node:tls on first use: plain-TCP commands never load it (start-up time) */
let tlsModule: typeof import('node:tls') | undefined;
const nodeTls = (): typeof import('node:tls') =>
  (tlsModule ??= createRequire(import.meta.url)('node:tls') as typeof import('node:tls'));

export const DEV_CERT_FILE = path.join('tls', 'dev-cert.pem');

/**
 * The name a TLS client sends as SNI for `host`: the host name itself, none for an address (RFC 6066
 * allows host names only; the certificate is still checked against its IP SANs). Without SNI a
 * server that keeps one certificate per name answers with its default one, which then fails the
 * name check.
 */
export function sniName(host: string): string | undefined {
  return isIP(host) ? undefined : host;
}

/**
 * The CA list for a TLS client, or undefined when the system roots alone apply.
 * @param dataDir the data directory whose dev certificate to trust (skipped when missing)
 * @param caFile an extra PEM file given by the user (an error when unreadable)
 */
export async function trustedCertificates(dataDir?: string, caFile?: string): Promise<string[] | undefined> {
  const extra: string[] = [];
  if (caFile !== undefined) {
    try {
      extra.push(await readFile(caFile, 'utf8'));
    } catch (err) {
      throw new NetkitError('NETKIT_IO', `--ca ${caFile}: ${(err as Error).message}`);
    }
  }
  if (dataDir !== undefined) {
    try {
      extra.push(await readFile(path.join(dataDir, DEV_CERT_FILE), 'utf8'));
    } catch {
      // no lab certificate here: fine
    }
  }
  if (!extra.length) return undefined;
  const deferred = deferredExtraCertificates();
  return [...nodeTls().rootCertificates, ...(deferred ? [deferred] : []), ...extra];
}

/** Where bin/netkit.cjs leaves NODE_EXTRA_CA_CERTS when it kept the file out of Node's start-up. */
const DEFERRED_CA_KEY = Symbol.for('netkit.deferredExtraCaCerts');

/** The NODE_EXTRA_CA_CERTS file the launcher deferred, or undefined (Node loaded it, or none is set). */
export function deferredExtraCaFile(): string | undefined {
  const file = (globalThis as Record<symbol, unknown>)[DEFERRED_CA_KEY];
  return typeof file === 'string' && file !== '' ? file : undefined;
}

let deferredPem: string | null | undefined;

/** The deferred file's certificates, read once; unreadable, it is ignored with Node's own warning. */
function deferredExtraCertificates(): string | undefined {
  const file = deferredExtraCaFile();
  if (file === undefined) return undefined;
  if (deferredPem === undefined) {
    try {
      deferredPem = readFileSync(file, 'latin1');
    } catch (err) {
      deferredPem = null;
      // worded as Node's own warning for this case, which it prints on one line
      process.stderr.write(
        `Warning: Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}\n`,
      );
    }
  }
  return deferredPem ?? undefined;
}

let defaultContext: SecureContext | undefined;

/**
 * Stands in for a SecureContext until a handshake reads `.context`: only then are the roots and the
 * deferred certificates parsed (~85 ms for a system bundle), so a client that is set up for TLS but
 * only ever speaks plain TCP never pays. Option spreads copy this object, never call the getters.
 */
const lazyDefaultContext = {
  get context(): unknown {
    defaultContext ??= buildDefaultContext();
    return (defaultContext as unknown as { context: unknown }).context;
  },
  get singleUse(): boolean {
    return false;
  },
} as unknown as SecureContext;

function buildDefaultContext(): SecureContext {
  const tls = nodeTls();
  const extra = deferredExtraCertificates();
  return tls.createSecureContext(extra ? { ca: [...tls.rootCertificates, extra] } : {});
}

/** CA certificates (PEM) trusted instead of the system's roots, as curl's --cacert. */
export type CaCertificates = string | Buffer | Array<string | Buffer>;

/**
 * The trust options of a TLS client. With `ca` (a --cacert / --ca file): exactly those
 * certificates. Without: Node's default roots — and, when the launcher deferred
 * NODE_EXTRA_CA_CERTS, a shared context that adds those certificates, as Node would have;
 * otherwise nothing (Node's defaults already apply). Spread it before the client's own options.
 */
export function defaultTrust(ca?: CaCertificates): { ca?: CaCertificates; secureContext?: SecureContext } {
  if (ca !== undefined) return { ca };
  return deferredExtraCaFile() === undefined ? {} : { secureContext: lazyDefaultContext };
}
