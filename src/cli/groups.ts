/**
 * The command groups of `netkit`, each loaded only when named on the command line (start-up must
 * stay fast). `main.ts` dispatches through this table; `completion.ts` loads them all to describe
 * every command to a shell.
 */
import type { Command } from 'commander';

export interface Group {
  description: string;
  load: () => Promise<{ register(program: Command): void | Promise<void> }>;
}

/** One entry per command group; each module registers its own subcommands. */
export const GROUPS: Record<string, Group> = {
  lab: {
    description: 'start every service on loopback with the live dashboard',
    load: () => import('./lab.js'),
  },
  tcp: { description: 'netcat-style TCP connect, listen and port scan', load: () => import('./tcp.js') },
  udp: { description: 'send and receive UDP datagrams', load: () => import('./udp.js') },
  serve: {
    description: 'classic services: echo discard chargen qotd daytime time',
    load: () => import('./serve.js'),
  },
  chat: { description: 'multi-client TCP line chat server and client', load: () => import('./chat.js') },
  multicast: { description: 'UDP multicast chat, send and listen', load: () => import('./multicast.js') },
  host: {
    description: 'hostname, interface addresses, DNS and reverse lookups',
    load: () => import('./host.js'),
  },
  ip: {
    description: 'IPv4/IPv6 address and prefix calculator (ipcalc-grade)',
    load: () => import('./ip.js'),
  },
  port: { description: 'service name <-> port number, and port ranges', load: () => import('./port.js') },
  smtp: { description: 'SMTP server with Maildir delivery', load: () => import('./smtp.js') },
  pop3: { description: 'POP3 server and client (list, retr, dele, fetch)', load: () => import('./pop3.js') },
  mail: {
    description: 'send mail with full MIME, show a message, serve SMTP+POP3',
    load: () => import('./mail.js'),
  },
  user: { description: 'manage accounts (shared by mail and FTP)', load: () => import('./user.js') },
  ftp: {
    description: 'FTP server and client (ls get put rm mkdir mv mirror shell)',
    load: () => import('./ftp.js'),
  },
  url: { description: "URL functions with Python's urllib.parse semantics", load: () => import('./url.js') },
  http: {
    description: 'HTTP requests with cookie jars, and a static file server',
    load: () => import('./http.js'),
  },
  download: { description: 'multi-connection resumable downloader', load: () => import('./download.js') },
  completion: {
    description: 'print a tab-completion script for bash, zsh or fish',
    load: () => import('./completion.js'),
  },
};
