/**
 * Which certificates a netkit client trusts: the system roots, plus the lab's own self-signed
 * development certificate when it is found in the data directory (`DATA/tls/dev-cert.pem`, written
 * by every netkit server on first TLS use), plus any `--ca` file. Pinning our own certificate keeps
 * verification on while `netkit mail send` / `netkit pop3 list` just work against the local lab;
 * `--insecure` (no verification) is only needed for a lab whose data directory is elsewhere.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import { NetkitError } from './errors.js';

export const DEV_CERT_FILE = path.join('tls', 'dev-cert.pem');

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
  return extra.length ? [...tls.rootCertificates, ...extra] : undefined;
}
