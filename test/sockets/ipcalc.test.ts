import { describe, expect, it } from 'vitest';
import { formatIpInfo } from '../../src/cli/ip.js';
import {
  classify,
  ipcalc,
  ipInfoToJson,
  ipv4Class,
  parseAddress,
  parsePrefix,
} from '../../src/sockets/ipcalc.js';

describe('ipcalc IPv4', () => {
  it('computes a /8 like ipcalc', () => {
    const i = ipcalc('10.1.2.3/8');
    expect(i).toMatchObject({
      version: 4,
      address: '10.1.2.3',
      prefix: 8,
      class: 'A',
      kind: 'private',
      netmask: '255.0.0.0',
      wildcard: '0.255.255.255',
      network: '10.0.0.0/8',
      networkAddress: '10.0.0.0',
      broadcast: '10.255.255.255',
      firstHost: '10.0.0.1',
      lastHost: '10.255.255.254',
      hex: '0a010203',
      binary: '00001010.00000001.00000010.00000011',
      reversePointer: '3.2.1.10.in-addr.arpa',
    });
    expect(i.hosts).toBe(16_777_214n);
    expect(i.addresses).toBe(16_777_216n);
    expect(i.integer).toBe(167_838_211n);
  });

  it.each([
    // input, network, broadcast, first, last, hosts
    ['192.168.1.10/24', '192.168.1.0/24', '192.168.1.255', '192.168.1.1', '192.168.1.254', 254n],
    ['192.168.1.10/30', '192.168.1.8/30', '192.168.1.11', '192.168.1.9', '192.168.1.10', 2n],
    ['192.168.1.10/31', '192.168.1.10/31', '192.168.1.11', '192.168.1.10', '192.168.1.11', 2n],
    ['192.168.1.10/32', '192.168.1.10/32', '192.168.1.10', '192.168.1.10', '192.168.1.10', 1n],
    ['192.168.1.10', '192.168.1.10/32', '192.168.1.10', '192.168.1.10', '192.168.1.10', 1n],
    ['0.0.0.0/0', '0.0.0.0/0', '255.255.255.255', '0.0.0.1', '255.255.255.254', 4_294_967_294n],
    ['172.20.1.1/255.240.0.0', '172.16.0.0/12', '172.31.255.255', '172.16.0.1', '172.31.255.254', 1_048_574n],
  ])('%s', (input, network, broadcast, first, last, hosts) => {
    const i = ipcalc(input);
    expect([i.network, i.broadcast, i.firstHost, i.lastHost, i.hosts]).toEqual([
      network,
      broadcast,
      first,
      last,
      hosts,
    ]);
  });

  it('accepts a separate netmask (ipcalc ADDRESS NETMASK)', () => {
    expect(ipcalc('192.168.1.10', '255.255.255.0').network).toBe('192.168.1.0/24');
  });

  it.each([
    // a wildcard (Cisco ACL) mask stands for its inverse, as in Python's ipaddress and ipcalc
    ['10.1.2.3/0.0.255.255', '10.1.0.0/16'],
    ['172.20.1.1/0.15.255.255', '172.16.0.0/12'],
    ['192.168.1.10/0.0.0.1', '192.168.1.10/31'],
    // both readings possible: the netmask one wins, as in Python
    ['10.1.2.3/0.0.0.0', '0.0.0.0/0'],
    ['10.1.2.3/255.255.255.255', '10.1.2.3/32'],
    // leading zeros in a prefix length, as Python takes them
    ['10.1.2.3/024', '10.1.2.0/24'],
    ['2001:db8::1/0064', '2001:db8::/64'],
  ])('%s is the network %s', (input, network) => {
    expect(ipcalc(input).network).toBe(network);
  });

  it('takes a wildcard as the separate mask too', () => {
    const i = ipcalc('10.1.2.3', '0.0.255.255');
    expect([i.netmask, i.wildcard, i.network]).toEqual(['255.255.0.0', '0.0.255.255', '10.1.0.0/16']);
  });

  it.each([
    [0, 'A'],
    [127, 'A'],
    [128, 'B'],
    [191, 'B'],
    [192, 'C'],
    [223, 'C'],
    [224, 'D'],
    [239, 'D'],
    [240, 'E'],
    [255, 'E'],
  ])('class of first octet %i is %s', (octet, cls) => {
    expect(ipv4Class(octet)).toBe(cls);
  });

  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'reserved'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.32.0.1', 'global'],
    ['192.168.255.255', 'private'],
    ['100.64.0.1', 'shared'],
    ['100.128.0.1', 'global'],
    ['127.0.0.1', 'loopback'],
    ['169.254.10.20', 'link-local'],
    ['192.0.0.9', 'reserved'],
    ['192.0.2.55', 'documentation'],
    ['198.51.100.1', 'documentation'],
    ['203.0.113.200', 'documentation'],
    ['198.18.0.1', 'reserved'],
    ['224.0.0.251', 'multicast'],
    ['239.255.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['8.8.8.8', 'global'],
  ])('kind of %s is %s', (addr, kind) => {
    expect(classify(addr).kind).toBe(kind);
  });
});

describe('ipcalc IPv6', () => {
  it('computes a /64', () => {
    const i = ipcalc('2001:db8::1/64');
    expect(i).toMatchObject({
      version: 6,
      class: null,
      kind: 'documentation',
      netmask: 'ffff:ffff:ffff:ffff::',
      wildcard: '::ffff:ffff:ffff:ffff',
      network: '2001:db8::/64',
      broadcast: null,
      lastAddress: '2001:db8::ffff:ffff:ffff:ffff',
      firstHost: '2001:db8::1',
      lastHost: '2001:db8::ffff:ffff:ffff:ffff',
      hex: '20010db8000000000000000000000001',
    });
    expect(i.hosts).toBe(2n ** 64n - 1n);
    expect(ipInfoToJson(i).hosts).toBe('18446744073709551615');
  });

  it.each([
    ['2001:db8::/127', '2001:db8::', '2001:db8::1', 2n],
    ['2001:db8::5/128', '2001:db8::5', '2001:db8::5', 1n],
    ['2001:db8::/126', '2001:db8::1', '2001:db8::3', 3n],
  ])('%s hosts', (input, first, last, hosts) => {
    const i = ipcalc(input);
    expect([i.firstHost, i.lastHost, i.hosts]).toEqual([first, last, hosts]);
  });

  it.each([
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['::ffff:192.0.2.1', 'ipv4-mapped'],
    ['ff02::1', 'multicast'],
    ['fe80::1', 'link-local'],
    ['fec0::1', 'site-local'],
    ['fd12:3456::1', 'unique-local'],
    ['2001:db8:1::1', 'documentation'],
    ['2001:0:4136:e378::1', 'teredo'],
    ['2002:c000:0204::1', '6to4'],
    ['2001:4860:4860::8888', 'global'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
    // NAT64 (globally reachable, though outside 2000::/3) and its local-use prefix
    ['64:ff9b::8.8.8.8', 'nat64'],
    ['64:ff9b:1::a00:1', 'nat64'],
    ['64:ff9b:0:1::1', 'reserved'],
  ])('kind of %s is %s', (addr, kind) => {
    expect(classify(addr).kind).toBe(kind);
  });

  it('keeps IPv4-compatible and IPv4-mapped apart (ipaddr.js does not)', () => {
    expect(ipcalc('::1.2.3.4').address).toBe('::102:304');
    const mapped = ipcalc('::ffff:1.2.3.4');
    expect(mapped.address).toBe('::ffff:102:304');
    expect(mapped.ipv4Mapped).toBe('1.2.3.4');
  });

  it('shows the IPv4 address inside 6to4, Teredo and NAT64 addresses, in the table and the JSON', () => {
    // RFC 4380's example: server 65.54.227.120, client 192.0.2.45 port 40000 (obfuscated)
    const teredo = ipcalc('2001:0:4136:e378:8000:63bf:3fff:fdd2');
    expect(teredo.teredo).toEqual({ server: '65.54.227.120', client: '192.0.2.45', clientPort: 40000 });
    expect(ipInfoToJson(teredo).teredo).toEqual({
      server: '65.54.227.120',
      client: '192.0.2.45',
      clientPort: 40000,
    });
    expect(formatIpInfo(teredo)).toMatch(
      /IPv4 +192\.0\.2\.45 port 40000 \(Teredo client\), server 65\.54\.227\.120\n/,
    );
    const sixToFour = ipcalc('2002:c000:204::1/48');
    expect(sixToFour.sixToFour).toBe('192.0.2.4');
    expect(formatIpInfo(sixToFour)).toMatch(/IPv4 +192\.0\.2\.4 \(6to4 router\)\n/);
    const nat64 = ipcalc('64:ff9b::8.8.4.4');
    expect(ipInfoToJson(nat64).nat64).toBe('8.8.4.4');
    expect(formatIpInfo(nat64)).toMatch(/IPv4 +8\.8\.4\.4 \(NAT64\)\n/);
    // outside those prefixes there is nothing embedded
    for (const plain of ['2001:db8::1', '2001:1::1', '64:ff9b:1::a00:1', '10.0.0.1']) {
      const i = ipcalc(plain);
      expect([i.sixToFour, i.teredo, i.nat64], plain).toEqual([undefined, undefined, undefined]);
    }
  });

  it("writes an IPv6 address out in full, as Python's exploded", () => {
    expect(ipcalc('2001:db8::1').exploded).toBe('2001:0db8:0000:0000:0000:0000:0000:0001');
    expect(ipcalc('::ffff:1.2.3.4').exploded).toBe('0000:0000:0000:0000:0000:ffff:0102:0304');
    expect(ipcalc('10.0.0.1').exploded).toBe('10.0.0.1');
  });

  it('keeps a zone id with the address, as Python does, and computes on the bare address', () => {
    const i = ipcalc('fe80::1%eth0/64');
    expect(i).toMatchObject({
      address: 'fe80::1%eth0',
      zoneId: 'eth0',
      kind: 'link-local',
      network: 'fe80::/64',
      firstHost: 'fe80::1',
      hex: 'fe800000000000000000000000000001',
      reversePointer: '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa',
    });
    expect(ipcalc('ff02::1%2').address).toBe('ff02::1%2');
    expect(ipcalc('2001:db8::1').zoneId).toBeUndefined();
  });

  it('writes the reverse pointer as nibbles', () => {
    expect(ipcalc('2001:db8::1').reversePointer).toBe(
      '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    );
  });
});

describe('ipcalc multicast scopes', () => {
  it.each([
    ['ff01::1', 'multicast, interface-local scope (RFC 4291)'],
    ['ff02::1:ff00:1', 'multicast, link-local scope (RFC 4291)'],
    ['ff05::1:3', 'multicast, site-local scope (RFC 4291)'],
    ['ff18::1', 'multicast, organization-local scope (RFC 4291)'],
    ['ff3e:30:2001:db8::1', 'multicast, global scope (RFC 4291)'],
    ['ff07::1', 'multicast, scope 7 (unassigned) (RFC 4291)'],
    ['224.0.0.251', 'multicast, local network control: link-local scope, never forwarded (RFC 5771)'],
    ['232.1.2.3', 'multicast, source-specific (RFC 4607)'],
    ['233.252.0.1', 'multicast, MCAST-TEST-NET documentation (RFC 6676)'],
    ['239.255.255.250', 'multicast, administratively scoped: organization or site only (RFC 2365)'],
    ['230.1.2.3', 'multicast (RFC 5771)'],
  ])('multicast %s is described with its scope: %s', (addr, description) => {
    expect(classify(addr)).toEqual({ kind: 'multicast', description });
  });
});

describe('ipcalc malformed input', () => {
  it.each([
    '',
    '10.1',
    '010.1.2.3',
    '256.1.1.1',
    '1.2.3.4.5',
    '10.0.0.1/33',
    '10.0.0.1/-1',
    '10.0.0.1/abc',
    '10.0.0.1/255.0.255.0',
    '2001:db8::1/129',
    '2001:db8::1/255.255.255.0',
    '1:2:3:4:5:6:7:8:9',
    '::1.2.3.400',
    'fe80::1%',
    'fe80::1%a%b',
    '10.0.0.1%eth0',
    'example.org',
    '10.0.0.1/',
  ])('%j is rejected with NETKIT_INVALID_INPUT', (input) => {
    expect(() => ipcalc(input)).toThrow(expect.objectContaining({ code: 'NETKIT_INVALID_INPUT' }));
  });

  it('rejects a prefix given twice', () => {
    expect(() => ipcalc('10.0.0.1/8', '255.0.0.0')).toThrow(/not both/);
  });

  it('parses netmasks and prefixes', () => {
    expect(parsePrefix('255.255.255.0', 4)).toBe(24);
    expect(parsePrefix('0.0.0.0', 4)).toBe(0);
    expect(parsePrefix('64', 6)).toBe(64);
    expect(parseAddress(' 10.0.0.1 ').toString()).toBe('10.0.0.1');
  });
});
