/**
 * `netkit host [NAME|ADDRESS]`: this machine (no argument), every A/AAAA address of a name, or the
 * name of an address. Library: `sockets/hostinfo.ts`.
 */
import net from 'node:net';
import { type Command, Option } from 'commander';
import { localHostInfo, lookupHost, reverseLookup } from '../sockets/hostinfo.js';
import { action, bold, printJson } from './util.js';

interface HostOptions {
  json?: boolean;
  ipv4?: boolean;
  ipv6?: boolean;
}

export function register(program: Command): void {
  program
    .command('host')
    .description('hostname, interface addresses, DNS and reverse lookups')
    .argument('[target]', 'a host name (forward lookup) or an IP address (reverse lookup)')
    .addOption(new Option('-4, --ipv4', 'IPv4 addresses only').conflicts('ipv6'))
    .addOption(new Option('-6, --ipv6', 'IPv6 addresses only').conflicts('ipv4'))
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
Lookups use the system resolver (getaddrinfo/getnameinfo), so /etc/hosts counts.

Examples:
  $ netkit host                  this machine's hostname and interface addresses
  $ netkit host localhost        every A and AAAA address
  $ netkit host 127.0.0.1        the reverse name
  $ netkit host example.org -6 --json`,
    )
    .action(
      action(async (target: string | undefined, opts: HostOptions) => {
        const want = (family: 4 | 6) => (!opts.ipv4 && !opts.ipv6) || (family === 4 ? opts.ipv4 : opts.ipv6);
        if (target === undefined) {
          const info = localHostInfo();
          info.interfaces = info.interfaces.filter((i) => want(i.family));
          if (opts.json) return printJson(info);
          const lines = [`${bold('hostname')} ${info.hostname}`];
          const width = Math.max(8, ...info.interfaces.map((i) => i.name.length));
          for (const i of info.interfaces) {
            const tags = [`IPv${i.family}`, i.internal ? 'loopback' : `mac ${i.mac}`];
            lines.push(
              `${bold(i.name.padEnd(width))} ${(i.cidr ?? i.address).padEnd(30)} ${tags.join('  ')}`,
            );
          }
          process.stdout.write(`${lines.join('\n')}\n`);
          return;
        }
        if (net.isIP(target)) {
          const r = await reverseLookup(target);
          if (opts.json) return printJson(r);
          process.stdout.write(`${r.names.map((n) => `${r.pointer} domain name pointer ${n}`).join('\n')}\n`);
          return;
        }
        const r = await lookupHost(target);
        r.addresses = r.addresses.filter((a) => want(a.family));
        if (opts.json) return printJson(r);
        if (!r.addresses.length) {
          const family = opts.ipv4 ? 'IPv4 ' : opts.ipv6 ? 'IPv6 ' : '';
          process.stdout.write(`${target} has no ${family}address\n`);
          return;
        }
        const lines = r.addresses.map(
          (a) => `${target} has ${a.family === 6 ? 'IPv6 address' : 'address'} ${a.address}`,
        );
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
    );
}
