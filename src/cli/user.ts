/**
 * `netkit user add|list|passwd|remove`: manage the one accounts file (`DATA/accounts.json`, scrypt
 * hashes, mode 0600) that the SMTP, POP3 and FTP servers share. A thin layer over
 * {@link AccountStore}; passwords come from `--password`, `NETKIT_PASSWORD` or a no-echo prompt, and
 * are never printed.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { type Account, AccountStore, validateAccountName } from '../core/accounts.js';
import { resolveDataDir } from '../core/datadir.js';
import { NetkitError, usageError } from '../core/errors.js';
import { terminalSafe } from '../core/terminal-safe.js';
import { action, printJson, readPassword } from './util.js';

interface DataOpts {
  data?: string;
}

/** An expiry date: an ISO date/time, or +N days/hours (`+7d`, `+12h`). */
export function parseExpires(value: string, now = Date.now()): string {
  const rel = /^\+(\d+)([dh])$/i.exec(value.trim());
  if (rel) {
    const ms = Number(rel[1]) * (rel[2]!.toLowerCase() === 'd' ? 86_400_000 : 3_600_000);
    return new Date(now + ms).toISOString();
  }
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value.trim()) || Number.isNaN(t)) {
    throw new InvalidArgumentError(`"${value}" is not a date (use YYYY-MM-DD, an ISO time, or +7d / +12h)`);
  }
  // an account that expired before it was made can never log in: surely a typo
  if (t <= now) throw new InvalidArgumentError(`"${value}" is in the past`);
  return new Date(t).toISOString();
}

/**
 * A new password: the option or NETKIT_PASSWORD as given, or asked twice on a TTY. `--password`
 * stays for scripts and the examples, but says once on stderr that every local user can read it
 * (`ps`, /proc/PID/cmdline) and that it lands in the shell history.
 */
async function newPassword(given: string | undefined, name: string): Promise<string> {
  if (given !== undefined) {
    process.stderr.write(
      'netkit: warning: --password is visible to other users (ps) and kept in shell history; prefer NETKIT_PASSWORD or the prompt\n',
    );
  }
  const interactive = given === undefined && process.env.NETKIT_PASSWORD === undefined;
  const pw = await readPassword(given, `New password for ${name}: `);
  if (interactive) {
    const again = await readPassword(undefined, 'Retype the password: ');
    if (again !== pw) throw usageError('the passwords do not match');
  }
  if (pw.length === 0) throw usageError('the password must not be empty');
  return pw;
}

function store(opts: DataOpts): AccountStore {
  return new AccountStore(resolveDataDir(opts.data));
}

function publicView(a: Account): { name: string; class: string; created: string; expires?: string } {
  const out: { name: string; class: string; created: string; expires?: string } = {
    name: a.name,
    class: a.class,
    created: a.created,
  };
  if (a.expires) out.expires = a.expires;
  return out;
}

function printTable(accounts: Account[]): void {
  if (accounts.length === 0) {
    process.stdout.write('no accounts\n');
    return;
  }
  const rows = accounts.map((a) => {
    const expired = a.expires && Date.parse(a.expires) < Date.now();
    return [
      a.name,
      a.class,
      a.created.slice(0, 10),
      a.expires ? `${a.expires.slice(0, 16).replace('T', ' ')}${expired ? ' (expired)' : ''}` : '-',
    ];
  });
  const header = ['NAME', 'CLASS', 'CREATED', 'EXPIRES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, ...rows]) {
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  }
}

export function register(program: Command): void {
  const user = program
    .command('user')
    .description('manage accounts (shared by mail and FTP)')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit user add bob                         ask for the password (twice)
  $ netkit user add eve --guest --expires +7d --password s3cret
  $ netkit user list --json
  $ NETKIT_PASSWORD=n3w netkit user passwd bob
  $ netkit user remove eve

Accounts live in DATA/accounts.json (scrypt hashes, mode 0600); SMTP AUTH, POP3 and FTP logins use them.`,
    );

  user
    .command('add <name>')
    .description('create an account (real by default, or a guest)')
    .option('--password <pw>', 'the password (default: NETKIT_PASSWORD or a prompt)')
    .option('--guest', 'a guest account (FTP: jailed to guest/; list, download and upload, no overwrite)')
    .option('--expires <date>', 'refuse logins after this date (YYYY-MM-DD, ISO time, +7d, +12h)', (v) =>
      parseExpires(v),
    )
    .option('--data <dir>', 'data directory (default ./netkit-data)')
    .option('--json', 'print the new account as JSON')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit user add bob
  $ netkit user add alice --password wonderland --data ./lab-data
  $ netkit user add visitor --guest --expires 2030-01-01 --password guest

NAME: letters, digits and . _ - (max 64), case-insensitive; no dot at the end or two in a row;
anonymous and ftp are reserved (FTP's anonymous logins).`,
    )
    .action(
      action(
        async (
          name: string,
          opts: DataOpts & { password?: string; guest?: boolean; expires?: string; json?: boolean },
        ) => {
          validateAccountName(name);
          const accounts = store(opts);
          if (await accounts.get(name))
            throw new NetkitError('NETKIT_EXISTS', `account "${terminalSafe(name)}" already exists`);
          const pw = await newPassword(opts.password, name);
          const account = await accounts.add(name, pw, {
            class: opts.guest ? 'guest' : 'real',
            expires: opts.expires,
          });
          if (opts.json) printJson(publicView(account));
          else {
            process.stdout.write(
              `added ${account.class} account ${account.name}${account.expires ? ` (expires ${account.expires})` : ''} in ${accounts.file}\n`,
            );
          }
        },
      ),
    );

  user
    .command('list')
    .description('list the accounts (names, classes, dates; never the hashes)')
    .option('--data <dir>', 'data directory (default ./netkit-data)')
    .option('--json', 'print a JSON array')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit user list
  $ netkit user list --json --data ./lab-data`,
    )
    .action(
      action(async (opts: DataOpts & { json?: boolean }) => {
        const accounts = await store(opts).list();
        if (opts.json) printJson(accounts.map(publicView));
        else printTable(accounts);
      }),
    );

  user
    .command('passwd <name>')
    .description("change an account's password")
    .option('--password <pw>', 'the new password (default: NETKIT_PASSWORD or a prompt)')
    .option('--data <dir>', 'data directory (default ./netkit-data)')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit user passwd bob
  $ NETKIT_PASSWORD=n3w netkit user passwd bob`,
    )
    .action(
      action(async (name: string, opts: DataOpts & { password?: string }) => {
        const accounts = store(opts);
        if (!(await accounts.get(name)))
          throw new NetkitError('NETKIT_NOT_FOUND', `no account "${terminalSafe(name)}"`);
        await accounts.setPassword(name, await newPassword(opts.password, name));
        process.stdout.write(`password changed for ${name.toLowerCase()}\n`);
      }),
    );

  user
    .command('remove <name>')
    .alias('rm')
    .description('delete an account (its mailbox and FTP home stay)')
    .option('--data <dir>', 'data directory (default ./netkit-data)')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit user remove eve
  $ netkit user rm eve --data ./lab-data`,
    )
    .action(
      action(async (name: string, opts: DataOpts) => {
        await store(opts).remove(name);
        process.stdout.write(`removed ${name.toLowerCase()}\n`);
      }),
    );
}
