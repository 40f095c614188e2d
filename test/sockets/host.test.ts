/**
 * Host information against the system and against Python's `socket` module (both ask the same
 * resolver, so `/etc/hosts` answers must match).
 */
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { localHostInfo, lookupHost, reverseLookup } from '../../src/sockets/hostinfo.js';
import { netkit, run } from '../helpers/net.js';

describe('netkit host', () => {
  it('lists this machine: hostname and every interface address', async () => {
    const info = localHostInfo();
    expect(info.hostname).toBe(os.hostname());
    const expected = Object.values(os.networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address));
    expect(info.interfaces.map((i) => i.address).sort()).toEqual(expected.sort());
    expect(info.interfaces.find((i) => i.address === '127.0.0.1')).toMatchObject({
      family: 4,
      internal: true,
      cidr: '127.0.0.1/8',
    });

    const r = await netkit(['host', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).hostname).toBe(os.hostname());
    const human = await netkit(['host', '-4']);
    expect(human.stdout).toMatch(/^hostname +\S+/m);
    expect(human.stdout).toMatch(/^lo\s+127\.0\.0\.1\/8\s+IPv4\s+loopback/m);
    expect(human.stdout).not.toMatch(/IPv6/);
  });

  it('resolves a name to the same addresses as Python getaddrinfo', async () => {
    const py = await run('python3', [
      '-c',
      'import socket,json; print(json.dumps(sorted({a[4][0] for a in socket.getaddrinfo("localhost", None)})))',
    ]);
    expect(py.code).toBe(0);
    const pythonAddrs = JSON.parse(py.stdout) as string[];
    const ours = await lookupHost('localhost');
    expect(ours.addresses.map((a) => a.address).sort()).toEqual(pythonAddrs);

    const cli = await netkit(['host', 'localhost']);
    expect(cli.code).toBe(0);
    for (const a of pythonAddrs) expect(cli.stdout).toContain(a);
    expect(cli.stdout).toMatch(/^localhost has address 127\.0\.0\.1$/m);
  });

  it('reverse-resolves 127.0.0.1 like Python gethostbyaddr', async () => {
    const py = await run('python3', ['-c', 'import socket; print(socket.gethostbyaddr("127.0.0.1")[0])']);
    const name = py.stdout.trim();
    expect(name).not.toBe('');
    const r = await reverseLookup('127.0.0.1');
    expect(r.names).toContain(name);
    expect(r.pointer).toBe('1.0.0.127.in-addr.arpa');
    const cli = await netkit(['host', '127.0.0.1', '--json']);
    expect(JSON.parse(cli.stdout)).toMatchObject({
      address: '127.0.0.1',
      names: expect.arrayContaining([name]),
    });
  });

  it('fails with one clear line for unknown names', async () => {
    await expect(lookupHost('no-such-host.invalid')).rejects.toMatchObject({ code: 'NETKIT_NOT_FOUND' });
    const r = await netkit(['host', 'no-such-host.invalid']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^netkit: host no-such-host\.invalid not found/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses an empty name as bad input (exit 2) instead of answering "no address"', async () => {
    await expect(lookupHost('')).rejects.toMatchObject({ code: 'NETKIT_INVALID_INPUT' });
    const r = await netkit(['host', '']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('netkit: the host name is empty\n');
  });

  it('takes an IPv6 address with a zone id, as getnameinfo and Python do', async () => {
    const r = await netkit(['host', 'fe80::1%lo', '--json']);
    // no PTR for a link-local address here: not found (exit 1), not "not an address" (exit 2)
    if (r.code === 0) expect(JSON.parse(r.stdout).address).toBe('fe80::1%lo');
    else {
      expect(r.stderr).toMatch(
        /^netkit: no name found for fe80::1%lo \(1\.0\.0\.0\.[0-9a-f.]*\.8\.e\.f\.ip6\.arpa\)\n$/,
      );
      expect(r.code).toBe(1);
    }
  });
});
