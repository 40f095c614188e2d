/**
 * `tcp listen --allow/--deny ADDR[/PREFIX]` (ncat's access control): a peer is let in when no
 * --allow is given or it matches one, and it matches no --deny. Addresses and prefixes are parsed
 * by the strict parsers of `ipcalc.ts` (ipaddr.js underneath; host bits may be set, as in ncat).
 *
 * IPv4-mapped IPv6 (`::ffff:10.1.2.3`, what a dual-stack `::` listener reports for an IPv4 peer) is
 * the same host as `10.1.2.3`: a peer is checked in both forms, so `--deny 10.0.0.0/8` also stops
 * it over a dual-stack socket, and `--deny ::ffff:10.0.0.0/104` also stops a plain IPv4 peer.
 */
import { createRequire } from 'node:module';
import type IpaddrModule from 'ipaddr.js';
import { NetkitError } from '../core/errors.js';
import { type IpVersion, parseAddress, parsePrefix } from './ipcalc.js';

const ipaddr = createRequire(import.meta.url)('ipaddr.js') as typeof IpaddrModule;
type Address = IpaddrModule.IPv4 | IpaddrModule.IPv6;

export interface AccessRule {
  /** the rule as given */
  text: string;
  address: Address;
  prefix: number;
}

export type AccessDecision =
  | { allowed: true }
  | { allowed: false; reason: 'not-allowed' }
  | { allowed: false; reason: 'denied'; rule: string };

/** Parse `ADDR` or `ADDR/PREFIX` (IPv4 or IPv6; a dotted netmask works for IPv4). */
export function parseAccessRule(text: string): AccessRule {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addrText = slash === -1 ? trimmed : trimmed.slice(0, slash);
  let address: Address;
  try {
    address = parseAddress(addrText);
  } catch {
    throw new NetkitError(
      'NETKIT_INVALID_INPUT',
      `"${text}" is not an address or ADDRESS/PREFIX (e.g. 10.0.0.0/8, ::1)`,
    );
  }
  const version: IpVersion = address.kind() === 'ipv4' ? 4 : 6;
  const prefix = slash === -1 ? (version === 4 ? 32 : 128) : parsePrefix(trimmed.slice(slash + 1), version);
  return { text: trimmed, address, prefix };
}

/** The forms a peer address is checked in: itself, plus its IPv4 or IPv4-mapped twin. */
function peerForms(peer: string): Address[] {
  // a link-local peer comes with its zone (fe80::1%eth0); the zone is not part of the address
  const bare = peer.replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) return [];
  const addr = ipaddr.parse(bare);
  if (addr.kind() === 'ipv4') return [addr, (addr as IpaddrModule.IPv4).toIPv4MappedAddress()];
  const v6 = addr as IpaddrModule.IPv6;
  return v6.isIPv4MappedAddress() ? [v6, v6.toIPv4Address()] : [v6];
}

function matches(forms: Address[], rule: AccessRule): boolean {
  return forms.some((a) => a.kind() === rule.address.kind() && a.match(rule.address, rule.prefix));
}

/** The allow and deny lists of a listener. */
export class AccessList {
  readonly allow: readonly AccessRule[];
  readonly deny: readonly AccessRule[];

  /** @throws NetkitError NETKIT_INVALID_INPUT for a malformed rule */
  constructor(allow: readonly string[] = [], deny: readonly string[] = []) {
    this.allow = allow.map(parseAccessRule);
    this.deny = deny.map(parseAccessRule);
  }

  get empty(): boolean {
    return this.allow.length === 0 && this.deny.length === 0;
  }

  /** May `peer` (a socket's `remoteAddress`) connect? An unparsable address is let in only without rules. */
  check(peer: string): AccessDecision {
    const forms = peerForms(peer);
    if (this.allow.length > 0 && !this.allow.some((r) => matches(forms, r))) {
      return { allowed: false, reason: 'not-allowed' };
    }
    const hit = this.deny.find((r) => matches(forms, r));
    if (hit) return { allowed: false, reason: 'denied', rule: hit.text };
    if (forms.length === 0 && !this.empty) return { allowed: false, reason: 'not-allowed' };
    return { allowed: true };
  }
}
