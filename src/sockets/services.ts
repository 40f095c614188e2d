/**
 * Service names ↔ port numbers, the way `getservbyname(3)` / `getservbyport(3)` answer them: from
 * the system services database (`/etc/services`), first entry wins, aliases count as names. When the
 * file is missing (minimal containers, Windows) a built-in table of common services stands in, so
 * `netkit port smtp` and the scanner's service column still work.
 *
 * Our own parser rather than a library: the format is one line per entry and Node has no
 * `getservbyname`; a pure function keeps it table-testable.
 */
import { readFile } from 'node:fs/promises';
import { NetkitError } from '../core/errors.js';
import { fileError } from '../core/fs-errors.js';

export type Protocol = 'tcp' | 'udp';

export interface ServiceEntry {
  name: string;
  port: number;
  protocol: string;
  aliases: string[];
}

export const SERVICES_FILE = '/etc/services';

/** Parse services(5) text. Malformed lines are skipped, as libc does. */
export function parseServices(text: string): ServiceEntry[] {
  const out: ServiceEntry[] = [];
  for (const raw of text.split('\n')) {
    const hash = raw.indexOf('#');
    const line = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (!line) continue;
    const fields = line.split(/\s+/);
    if (fields.length < 2) continue;
    const m = /^(\d+)\/([A-Za-z0-9_-]+)$/.exec(fields[1]!);
    if (!m) continue;
    const port = Number(m[1]);
    if (port > 65535) continue;
    out.push({ name: fields[0]!, port, protocol: m[2]!.toLowerCase(), aliases: fields.slice(2) });
  }
  return out;
}

/**
 * The fallback table, in services(5) syntax: the classic and commonly scanned services
 * (IANA assignments), used only when the system file cannot be read.
 */
const BUILTIN = `
tcpmux 1/tcp
echo 7/tcp
echo 7/udp
discard 9/tcp sink null
discard 9/udp sink null
systat 11/tcp users
daytime 13/tcp
daytime 13/udp
netstat 15/tcp
qotd 17/tcp quote
qotd 17/udp quote
chargen 19/tcp ttytst source
chargen 19/udp ttytst source
ftp-data 20/tcp
ftp 21/tcp
ssh 22/tcp
telnet 23/tcp
smtp 25/tcp mail
time 37/tcp timserver
time 37/udp timserver
whois 43/tcp nicname
domain 53/tcp
domain 53/udp
bootps 67/udp
bootpc 68/udp
tftp 69/udp
gopher 70/tcp
finger 79/tcp
http 80/tcp www
kerberos 88/tcp kerberos5 krb5 kerberos-sec
kerberos 88/udp kerberos5 krb5 kerberos-sec
pop3 110/tcp pop-3
sunrpc 111/tcp portmapper
sunrpc 111/udp portmapper
auth 113/tcp authentication tap ident
nntp 119/tcp readnews untp
ntp 123/udp
epmap 135/tcp loc-srv
netbios-ns 137/udp
netbios-dgm 138/udp
netbios-ssn 139/tcp
imap2 143/tcp imap
snmp 161/tcp
snmp 161/udp
snmp-trap 162/tcp snmptrap
snmp-trap 162/udp snmptrap
bgp 179/tcp
irc 194/tcp
ldap 389/tcp
ldap 389/udp
https 443/tcp
https 443/udp
microsoft-ds 445/tcp
submissions 465/tcp ssmtp smtps urd
isakmp 500/udp
exec 512/tcp
biff 512/udp comsat
login 513/tcp
who 513/udp whod
shell 514/tcp cmd
syslog 514/udp
printer 515/tcp spooler
route 520/udp router routed
rtsp 554/tcp
rtsp 554/udp
submission 587/tcp
ipp 631/tcp
ldaps 636/tcp
ldaps 636/udp
domain-s 853/tcp
domain-s 853/udp
rsync 873/tcp
ftps-data 989/tcp
ftps 990/tcp
telnets 992/tcp
imaps 993/tcp
pop3s 995/tcp
socks 1080/tcp
openvpn 1194/tcp
openvpn 1194/udp
ms-sql-s 1433/tcp
ms-sql-m 1434/udp
l2tp 1701/udp
pptp 1723/tcp
radius 1812/tcp
radius 1812/udp
radius-acct 1813/tcp radacct
radius-acct 1813/udp radacct
nfs 2049/tcp
nfs 2049/udp
mysql 3306/tcp
ms-wbt-server 3389/tcp
svn 3690/tcp subversion
sip 5060/tcp
sip 5060/udp
xmpp-client 5222/tcp jabber-client
postgresql 5432/tcp postgres
amqp 5672/tcp
x11 6000/tcp x11-0
ircd 6667/tcp
http-alt 8080/tcp webcache
redis 6379/tcp
`;

export type ServicesSource = 'system' | 'built-in';

/** An in-memory services database with libc's first-entry-wins lookups. */
export class ServiceDb {
  constructor(
    readonly entries: ServiceEntry[],
    /** where the entries came from: the file path, or `built-in` */
    readonly source: string,
  ) {}

  /** Every entry whose name or alias is `name` (exact case first, then case-insensitive). */
  findByName(name: string, protocol?: string): ServiceEntry[] {
    const proto = (e: ServiceEntry) => protocol === undefined || e.protocol === protocol;
    const exact = this.entries.filter((e) => proto(e) && (e.name === name || e.aliases.includes(name)));
    if (exact.length) return exact;
    const lower = name.toLowerCase();
    return this.entries.filter(
      (e) => proto(e) && (e.name.toLowerCase() === lower || e.aliases.some((a) => a.toLowerCase() === lower)),
    );
  }

  findByPort(port: number, protocol?: string): ServiceEntry[] {
    return this.entries.filter((e) => e.port === port && (protocol === undefined || e.protocol === protocol));
  }

  /** `getservbyname(name, proto)`: the port, or undefined. */
  portOf(name: string, protocol?: string): number | undefined {
    return this.findByName(name, protocol)[0]?.port;
  }

  /** `getservbyport(port, proto)`: the official name, or undefined. */
  nameOf(port: number, protocol?: string): string | undefined {
    return this.findByPort(port, protocol)[0]?.name;
  }
}

/** The built-in fallback database. */
export function builtinServices(): ServiceDb {
  return new ServiceDb(parseServices(BUILTIN), 'built-in');
}

const cache = new Map<string, Promise<ServiceDb>>();

/**
 * Load the services database: `/etc/services`, or the built-in table when it cannot be read (a
 * minimal container has none). A `file` the caller names must be read: one that cannot be is an
 * error (`cannot read services file x: no such file or directory`), not a silent answer from
 * another table — unless `fallback` asks for the built-in table then too.
 */
export function loadServices(file?: string, options: { fallback?: boolean } = {}): Promise<ServiceDb> {
  const name = file ?? SERVICES_FILE;
  const fallback = options.fallback ?? file === undefined;
  // with and without the fallback, a missing file has two answers: not one cache entry
  const key = `${fallback ? 'or-built-in' : 'only'}:${name}`;
  let p = cache.get(key);
  if (!p) {
    p = readFile(name, 'utf8').then(
      (text) => new ServiceDb(parseServices(text), name),
      (err) => {
        if (fallback) return builtinServices();
        cache.delete(key); // a file made later is read then
        throw fileError(err, `cannot read services file ${name}`);
      },
    );
    cache.set(key, p);
  }
  return p;
}

export interface PortRange {
  name: 'well-known' | 'registered' | 'dynamic';
  from: number;
  to: number;
  description: string;
}

const RANGES: PortRange[] = [
  { name: 'well-known', from: 0, to: 1023, description: 'system ports, assigned by IANA (RFC 6335)' },
  { name: 'registered', from: 1024, to: 49151, description: 'user ports, registered with IANA (RFC 6335)' },
  {
    name: 'dynamic',
    from: 49152,
    to: 65535,
    description: 'dynamic/private ports, never assigned (RFC 6335)',
  },
];

/** The IANA range a port belongs to. */
export function portRange(port: number): PortRange {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new NetkitError('NETKIT_INVALID_INPUT', `${port} is not a port number (0-65535)`);
  }
  return RANGES.find((r) => port <= r.to)!;
}

export interface PortQuery {
  name?: string;
  port?: number;
  protocol?: Protocol;
}

/** Parse `NAME`, `NUMBER`, `NAME/tcp`, `NUMBER/udp`. */
export function parsePortQuery(text: string): PortQuery {
  const m = /^([^/\s]+)(?:\/([A-Za-z]+))?$/.exec(text.trim());
  if (!m) throw new NetkitError('NETKIT_INVALID_INPUT', `"${text}" is not NAME or NUMBER[/tcp|udp]`);
  const q: PortQuery = {};
  if (m[2] !== undefined) {
    const p = m[2].toLowerCase();
    if (p !== 'tcp' && p !== 'udp') {
      throw new NetkitError('NETKIT_INVALID_INPUT', `unknown protocol "${m[2]}" (use tcp or udp)`);
    }
    q.protocol = p;
  }
  if (/^\d+$/.test(m[1]!)) {
    const n = Number(m[1]);
    if (n > 65535) throw new NetkitError('NETKIT_INVALID_INPUT', `${m[1]} is not a port number (0-65535)`);
    q.port = n;
  } else if (/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(m[1]!)) {
    q.name = m[1]!;
  } else {
    throw new NetkitError('NETKIT_INVALID_INPUT', `"${m[1]}" is not a service name or port number`);
  }
  return q;
}

export interface PortInfo {
  query: string;
  port: number;
  /** the protocol asked for, if any */
  protocol: Protocol | null;
  /** the official name (first matching entry), null when the port has no entry */
  name: string | null;
  aliases: string[];
  /** every matching entry, in file order */
  entries: ServiceEntry[];
  range: PortRange;
  /** `/etc/services` or `built-in` */
  source: string;
}

/** Answer `NAME|NUMBER[/tcp|udp]` from the database. Unknown names throw `NETKIT_NOT_FOUND`. */
export function lookupPort(db: ServiceDb, query: string): PortInfo {
  const q = parsePortQuery(query);
  let entries: ServiceEntry[];
  let port: number;
  if (q.name !== undefined) {
    const byName = db.findByName(q.name, q.protocol);
    if (!byName.length) {
      throw new NetkitError(
        'NETKIT_NOT_FOUND',
        `no service named "${q.name}"${q.protocol ? ` for ${q.protocol}` : ''} in ${db.source}`,
      );
    }
    port = byName[0]!.port;
    // show every protocol's entry for that port, keeping the one found first
    entries = byName.filter((e) => e.port === port);
  } else {
    port = q.port!;
    entries = db.findByPort(port, q.protocol);
  }
  const first = entries[0];
  const aliases = [...new Set(entries.flatMap((e) => (e.name === first?.name ? e.aliases : [])))];
  return {
    query,
    port,
    protocol: q.protocol ?? null,
    name: first?.name ?? null,
    aliases,
    entries,
    range: portRange(port),
    source: db.source,
  };
}
