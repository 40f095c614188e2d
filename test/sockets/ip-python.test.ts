/**
 * Interop: `netkit ip --json` against Python's `ipaddress` module on a generated set of IPv4 and
 * IPv6 addresses and prefixes. One CLI run and one Python run cover the whole set.
 *
 * Python's kind flags changed between 3.11 patch releases and again in 3.13 for a few IANA blocks
 * (192.0.0.0/24 beyond /29, 64:ff9b:1::/48, 3fff::/20, 5f00::/16, the ORCHID blocks); the
 * generator stays out of those blocks so the comparison holds on every Python the CI may have.
 */
import { describe, expect, it } from 'vitest';
import { netkit, run } from '../helpers/net.js';

/** Deterministic PRNG (mulberry32), so a failure is reproducible. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(): string[] {
  const r = rng(20240601);
  const int = (n: number) => Math.floor(r() * n);
  const v4 = (a: number, b = int(256), c = int(256), d = int(256)) => `${a}.${b}.${c}.${d}`;
  const hex = () => int(0x10000).toString(16);
  const set: string[] = [
    // every special block, at its edges
    '0.0.0.0',
    '0.1.2.3/8',
    '10.0.0.0/8',
    '10.255.255.255',
    '100.64.0.0/10',
    '100.127.255.255',
    '127.0.0.1/8',
    '169.254.1.1/16',
    '172.16.0.1/12',
    '172.31.255.254',
    '172.32.0.1',
    '192.0.0.1/29',
    '192.0.2.1/24',
    '192.168.0.1/16',
    '198.18.0.1/15',
    '198.51.100.77/24',
    '203.0.113.9/24',
    '224.0.0.1/4',
    '239.255.255.250',
    '240.0.0.1/4',
    '255.255.255.255',
    '8.8.8.8/32',
    '1.1.1.1/31',
    '1.1.1.0/30',
    '192.168.1.10/255.255.255.0',
    '10.1.2.3/0',
    '::',
    '::1',
    '::ffff:192.0.2.1/96',
    '::1.2.3.4',
    'ff02::1/16',
    'fe80::1/64',
    'fec0::1/10',
    'fc00::1/7',
    'fd12:3456:789a::1/48',
    '2001:db8::/32',
    '2001:db8:85a3::8a2e:370:7334/64',
    '2001:0:4136:e378:8000:63bf:3fff:fdd2/32',
    '2002:c000:204::1/16',
    '2001:4860:4860::8888/128',
    '2001:db8::/127',
    '2001:db8::/126',
    '100::1/64',
    '4000::1',
    '1:0:0:2::3',
    '1:0:2:3:4:5:6:7',
    '2001:db8:0:0:1:0:0:1',
    // masks in every form Python takes: wildcard (hostmask), netmask, prefix with leading zeros
    '10.1.2.3/0.0.255.255',
    '172.20.1.1/0.15.255.255',
    '192.168.1.10/0.0.0.1',
    '198.51.100.7/0.0.0.0',
    '203.0.113.9/255.255.255.255',
    '10.1.2.3/024',
    '2001:db8::1/0064',
    // zone ids
    'fe80::1%eth0/64',
    'fe80::abcd%2/127',
    'ff02::1%lo',
    // NAT64
    '64:ff9b::8.8.8.8/96',
  ];
  // random public-ish and private IPv4 with random prefixes
  for (let i = 0; i < 150; i++) {
    let a = int(256);
    if (a === 192) a = 193; // 192.0.0.0/24 is disputed between Python versions
    const addr = i % 5 === 0 ? v4(10) : i % 7 === 0 ? v4(172, 16 + int(16)) : v4(a);
    set.push(i % 4 === 0 ? addr : `${addr}/${int(33)}`);
  }
  // random IPv6: global unicast, ULA, link-local, multicast
  for (let i = 0; i < 120; i++) {
    const first = [
      (0x2400 + int(0x1800)).toString(16), // 2400::–3bff::, clear of 3fff::/20
      `fd${int(256).toString(16).padStart(2, '0')}`,
      'fe80',
      `ff0${int(16).toString(16)}`,
      '2001:db8',
    ][i % 5]!;
    const groups = first.includes(':') ? 6 : 7;
    const addr = [first, ...Array.from({ length: groups }, hex)].join(':');
    set.push(i % 4 === 0 ? addr : `${addr}/${int(129)}`);
  }
  // transition addresses with an IPv4 address inside: 6to4, Teredo, NAT64
  for (let i = 0; i < 30; i++) {
    const first = ['2002', '2001:0', '64:ff9b:0:0:0:0'][i % 3]!;
    const groups = 8 - first.split(':').length;
    set.push([first, ...Array.from({ length: groups }, hex)].join(':'));
  }
  return set;
}

const PYTHON = `
import ipaddress, json, re, sys

def kind4(a):
    if a.is_unspecified: return 'unspecified'
    if a == ipaddress.ip_address('255.255.255.255'): return 'broadcast'
    if a.is_loopback: return 'loopback'
    if a.is_link_local: return 'link-local'
    if a.is_multicast: return 'multicast'
    if a in ipaddress.ip_network('100.64.0.0/10'): return 'shared'
    if a.is_reserved: return 'reserved'
    if any(a in ipaddress.ip_network(n) for n in ('192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24')):
        return 'documentation'
    if any(a in ipaddress.ip_network(n) for n in ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16')):
        return 'private'
    if a.is_private: return 'reserved'
    if a.is_global: return 'global'
    return 'reserved'

def kind6(a):
    if a.is_unspecified: return 'unspecified'
    if a.is_loopback: return 'loopback'
    if a.ipv4_mapped is not None: return 'ipv4-mapped'
    if a in ipaddress.ip_network('64:ff9b::/96'): return 'nat64'
    if a.is_multicast: return 'multicast'
    if a.is_link_local: return 'link-local'
    if a.is_site_local: return 'site-local'
    if a in ipaddress.ip_network('fc00::/7'): return 'unique-local'
    if a in ipaddress.ip_network('2001:db8::/32'): return 'documentation'
    if a.teredo is not None: return 'teredo'
    if a.sixtofour is not None: return '6to4'
    if a.is_reserved: return 'reserved'
    if a.is_private: return 'reserved'
    if a.is_global: return 'global'
    return 'reserved'

def bare(x):
    # Python 3.11 keeps the zone id on a network given without a prefix; ours is on the address only
    return re.sub('%[^/]*', '', str(x))

out = []
for text in json.load(sys.stdin):
    iface = ipaddress.ip_interface(text)
    net, a = iface.network, iface.ip
    bare_text, _, zone = text.split('/')[0].partition('%')
    rec = {
        'input': text,
        'version': a.version,
        # the address keeps its zone id (iface.ip drops it); the network is the bare address's
        'address': str(ipaddress.ip_address(text.split('/')[0])),
        # Python 3.11 cannot explode a scoped address: the zone id goes after the full form
        'exploded': ipaddress.ip_address(bare_text).exploded + ('%' + zone if zone else ''),
        'prefix': net.prefixlen,
        'network': bare(net),
        'netmask': str(net.netmask),
        'wildcard': str(net.hostmask),
        'lastAddress': bare(net.broadcast_address),
        'addresses': str(net.num_addresses),
        'hex': a.packed.hex(),
        'integer': str(int(a)),
        'reversePointer': a.reverse_pointer,
        'kind': kind4(a) if a.version == 4 else kind6(a),
        'firstHost': bare(next(iter(net.hosts()), net.network_address)),
        'sixToFour': str(a.sixtofour) if a.version == 6 and a.sixtofour is not None else None,
        'teredo': [str(x) for x in a.teredo] if a.version == 6 and a.teredo is not None else None,
        'nat64': str(ipaddress.IPv4Address(int(a) & 0xFFFFFFFF))
            if a.version == 6 and a in ipaddress.ip_network('64:ff9b::/96') else None,
    }
    if net.num_addresses <= 4096:
        hosts = list(net.hosts())
        rec['hosts'] = str(len(hosts))
        rec['lastHost'] = bare(hosts[-1])
    out.append(rec)
json.dump(out, sys.stdout)
`;

/** Python 3.13 prints IPv4-mapped addresses with a dotted quad; ipaddr.js and older Pythons use hex. */
function normalise(text: string): string {
  const m = /^::ffff:(\d+)\.(\d+)\.(\d+)\.(\d+)(\/\d+)?$/.exec(text);
  if (!m) return text;
  const [a, b, c, d] = m.slice(1, 5).map(Number) as [number, number, number, number];
  return `::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}${m[5] ?? ''}`;
}

describe('netkit ip vs Python ipaddress', () => {
  it('agrees on network, broadcast, host counts, kind and encodings for the whole set', async () => {
    const inputs = generate();
    const [ours, py] = await Promise.all([
      netkit(['ip', '--json', ...inputs]),
      run('python3', ['-c', PYTHON], { input: JSON.stringify(inputs) }),
    ]);
    expect(py.stderr).toBe('');
    expect(py.code).toBe(0);
    expect(ours.stderr).toBe('');
    expect(ours.code).toBe(0);
    const mine = ours.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const theirs = JSON.parse(py.stdout) as Array<Record<string, string | number | string[] | null>>;
    expect(mine).toHaveLength(inputs.length);
    expect(theirs).toHaveLength(inputs.length);
    let hostCounts = 0;
    for (let i = 0; i < inputs.length; i++) {
      const p = theirs[i]!;
      const o = mine[i]!;
      const expected: Record<string, unknown> = {
        input: p.input,
        version: p.version,
        address: normalise(String(p.address)),
        exploded: p.exploded,
        prefix: p.prefix,
        network: normalise(String(p.network)),
        netmask: p.netmask,
        wildcard: p.wildcard,
        lastAddress: normalise(String(p.lastAddress)),
        addresses: String(p.addresses),
        hex: p.hex,
        integer: String(p.integer),
        reversePointer: p.reversePointer,
        kind: p.kind,
        firstHost: normalise(String(p.firstHost)),
      };
      const actual: Record<string, unknown> = {};
      for (const k of Object.keys(expected))
        actual[k] = k === 'addresses' || k === 'integer' ? String(o[k]) : o[k];
      expect(actual, `input ${inputs[i]}`).toEqual(expected);
      if (o.version === 4) expect(o.broadcast, `broadcast of ${inputs[i]}`).toBe(p.lastAddress);
      const teredo = o.teredo as { server: string; client: string } | undefined;
      expect(
        {
          sixToFour: o.sixToFour ?? null,
          teredo: teredo ? [teredo.server, teredo.client] : null,
          nat64: o.nat64 ?? null,
        },
        `embedded IPv4 of ${inputs[i]}`,
      ).toEqual({ sixToFour: p.sixToFour, teredo: p.teredo, nat64: p.nat64 });
      if (p.hosts !== undefined) {
        hostCounts++;
        expect(String(o.hosts), `hosts of ${inputs[i]}`).toBe(p.hosts);
        expect(o.lastHost, `last host of ${inputs[i]}`).toBe(normalise(String(p.lastHost)));
      }
    }
    // the set must exercise the small-network rules (/31, /32, /127, /128 …), not only big ones
    expect(hostCounts).toBeGreaterThan(40);
    // and the embedded IPv4 of every transition mechanism
    for (const k of ['sixToFour', 'teredo', 'nat64'])
      expect(mine.filter((o) => o[k]).length, k).toBeGreaterThan(5);
  });

  it('reads the ipcalc two-argument forms (ADDRESS NETMASK|WILDCARD|PREFIX) as Python reads ADDRESS/MASK', async () => {
    const pairs = [
      ['192.168.1.10', '255.255.255.0'],
      ['10.1.2.3', '0.0.255.255'],
      ['10.1.2.3', '24'],
      ['2001:db8::1', '64'],
    ];
    const py = await run(
      'python3',
      [
        '-c',
        'import ipaddress, json, sys; print(json.dumps([str(ipaddress.ip_interface(f"{a}/{m}").network) for a, m in json.load(sys.stdin)]))',
      ],
      { input: JSON.stringify(pairs) },
    );
    expect(py.code).toBe(0);
    const networks = JSON.parse(py.stdout) as string[];
    for (const [i, [address, mask]] of pairs.entries()) {
      const r = await netkit(['ip', address!, mask!, '--json']);
      expect(r.code, `${address} ${mask}: ${r.stderr}`).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines, `${address} ${mask} is one network, not two addresses`).toHaveLength(1);
      expect(JSON.parse(lines[0]!).network).toBe(networks[i]);
    }
  });
});
