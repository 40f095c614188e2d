/**
 * `-4` / `-6` against an address literal: a literal has one family, so a contradicting flag is a
 * usage error (nc: "Address family for hostname not supported") rather than silently ignored.
 */
import net from 'node:net';
import { NetkitError } from '../core/errors.js';

/** Throw NETKIT_USAGE when `host` is an IP literal of the other family than `family`. */
export function checkLiteralFamily(host: string, family: 4 | 6 | undefined): void {
  const literal = net.isIP(host);
  if (!family || !literal || literal === family) return;
  throw new NetkitError(
    'NETKIT_USAGE',
    `${host} is an IPv${literal} address, but -${family} asks for IPv${family}`,
  );
}
