/**
 * Option validation and help texts of the command groups (chat, download, ftp serve, host, http,
 * mail, multicast, pop3, smtp, tcp, udp, url): bad values are usage errors at parse time (exit 2,
 * one line on stderr, nothing run); duration defaults are shown as durations (a bare number would
 * mean seconds); every group's help has examples and no help text holds a control character;
 * unreadable --cert/--key files name the option.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullProgram } from '../../src/cli/completion.js';
import { netkit, tempDir } from '../helpers/net.js';

let dir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-cli-options-'));
});
afterAll(() => cleanup());

/** Nothing listens on the discard port of loopback in CI; a request that got through would fail (exit 1). */
const URL = 'http://127.0.0.1:9/x';

/** The help entries of the options: `--flag <arg>  description (default: …)`, wrapped lines joined. */
function optionEntries(help: string): Map<string, string> {
  const entries = new Map<string, string>();
  const section = help.split(/\nOptions:\n/)[1]?.split(/\n\n/)[0] ?? '';
  let current: string | undefined;
  for (const line of section.split('\n')) {
    const m = /^ {2}(-\S.*?)(?: {2,}(.*))?$/.exec(line);
    if (m) {
      current = m[1]!.trim();
      entries.set(current, (m[2] ?? '').trim());
    } else if (current !== undefined) entries.set(current, `${entries.get(current)} ${line.trim()}`.trim());
  }
  return entries;
}

function entry(help: string, flag: string): string {
  for (const [name, text] of optionEntries(help)) if (name.split(/[ ,]+/).includes(flag)) return text;
  throw new Error(`no ${flag} in:\n${help}`);
}

function defaultOf(text: string): string | undefined {
  return /\(default: ([^)]*)\)$/.exec(text)?.[1];
}

describe('usage errors: exit 2 and one line, before anything runs', () => {
  const cases: Array<[string[], RegExp]> = [
    [['chat', 'serve', '--port', '0', '--max-line', '0'], /--max-line <bytes>.*"0" must be greater than 0/],
    [['chat', 'serve', '--port', '0', '--max-queue', '0'], /--max-queue <bytes>.*must be greater than 0/],
    [['download', '--retries', '-1', URL], /--retries <n>.*"-1" must be 0 or more/],
    [['download', '-k', '0', URL], /--min-segment <size>.*"0" must be greater than 0/],
    [['http', 'get', '--max-redirects', '-5', URL], /--max-redirects <n>.*"-5" must be 0 or more/],
    [['http', 'head', '-d', 'x', URL], /unknown option '-d'/],
    [['http', 'head', '--json', '{}', URL], /unknown option '--json'/],
    [
      ['url', 'qs', 'a=1', '--encoding', 'bogus'],
      /"bogus" is not a supported encoding \(use utf-8, latin-1, ascii\)/,
    ],
    [['url', 'qs', 'a=1', '--separator', ''], /--separator <sep>.*the separator cannot be empty/],
    [['url', 'qs', 'a=1', '--max-fields', '-1'], /--max-fields <n>.*"-1" must be 0 or more/],
    [['host', '-4', '-6'], /option '-4, --ipv4' cannot be used with option '-6, --ipv6'/],
    [
      ['mail', 'send', '--to', 'b@lab', '--text', 'x', '--dry-run', '--tls', '--no-tls'],
      /option '--tls' cannot be used with option '--no-tls'/,
    ],
    [
      ['mail', 'send', '--to', 'b@lab', '--text', 'x', '--dry-run', '--no-tls', '--tls'],
      /option '--tls' cannot be used with option '--no-tls'/,
    ],
    [
      ['mail', 'send', '--to', 'b@lab', '--text', 'x', '--dry-run', '--tls', '--starttls'],
      /option '--starttls' cannot be used with option '--tls'/,
    ],
    [
      ['mail', 'send', '--to', 'b@lab', '--text', 'x', '--dry-run', '--no-tls', '--starttls'],
      /option '--starttls' cannot be used with option '--no-tls'/,
    ],
    [['mail', 'serve', '--max-messages', '-1'], /--max-messages <n>.*"-1" must be 0 or more/],
    [['mail', 'serve', '--max-size', '0'], /--max-size <size>.*must be greater than 0/],
    [['smtp', 'serve', '--max-size', '0'], /--max-size <size>.*must be greater than 0/],
    [['pop3', 'list', '--user', 'bob', '--auth', 'bogus'], /Allowed choices are user, plain/],
    [['smtp', 'serve', '--bare-newlines', 'normalice'], /Allowed choices are reject, normalise\./],
    [['mail', 'serve', '--bare-newlines', 'rejected'], /Allowed choices are reject, normalise\./],
    [['pop3', 'serve', '--login-delay', 'soon'], /"soon" is not a duration/],
    [['udp', 'send', '127.0.0.1', '0', 'x'], /"0" is not a destination port \(1-65535\)/],
    [['udp', 'send', '127.0.0.1', '7', 'x', '--wait', 'soon'], /"soon" is not a duration/],
    [
      ['udp', 'send', '-4', '-6', '127.0.0.1', '7', 'x'],
      /'-4, --ipv4' cannot be used with option '-6, --ipv6'/,
    ],
    [['multicast', 'send', '--port', '0', 'x'], /"0" is not a destination port \(1-65535\)/],
    [['multicast', 'listen', '--port', '70000'], /"70000" is not a destination port \(1-65535\)/],
    [['multicast', 'listen', '--max-queue', '0'], /--max-queue <bytes>.*must be greater than 0/],
    [['multicast', 'chat', '-n', 'a', '--max-queue', 'lots'], /"lots" is not a size/],
    [['udp', 'listen', '0', '--max-queue', '0'], /--max-queue <bytes>.*must be greater than 0/],
    [['tcp', 'connect', '127.0.0.1', '0'], /"0" is not a destination port \(1-65535\)/],
    // commander's suggestion for a typo is part of the one line
    [['ip', '10.0.0.1', '--jsn'], /^netkit: unknown option '--jsn' \(did you mean --json\?\)\n$/],
    [['tcp', 'conect'], /^netkit: unknown command 'conect' \(did you mean connect\?\)\n$/],
    [['htp'], /^netkit: unknown command 'htp' \(did you mean one of ftp, http\?\)\n$/],
    [
      ['tcp', 'connect', '-4', '-6', '127.0.0.1', '7'],
      /'-4, --ipv4' cannot be used with option '-6, --ipv6'/,
    ],
  ];
  for (const [args, message] of cases) {
    it(`netkit ${args.join(' ')}`, async () => {
      const r = await netkit([...args], { cwd: dir });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^netkit: /);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    });
  }

  it('url qs still takes the encodings it supports, by any of their names', async () => {
    const r = await netkit(['url', 'qs', 'a=%E9', '--encoding', 'latin1', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('{"a":["é"]}\n');
    const sep = await netkit(['url', 'qs', 'a=1;b=2', '--separator', ';', '--json']);
    expect(sep.stdout).toBe('{"a":["1"],"b":["2"]}\n');
  });
});

describe('help texts', () => {
  const commands = [
    ['chat', 'serve'],
    ['chat', 'join'],
    ['download'],
    ['ftp', 'serve'],
    ['http', 'get'],
    ['http', 'head'],
    ['http', 'post'],
    ['http', 'serve'],
    ['mail', 'send'],
    ['mail', 'serve'],
    ['multicast', 'chat'],
    ['multicast', 'send'],
    ['pop3', 'serve'],
    ['pop3', 'list'],
    ['pop3', 'fetch'],
    ['smtp', 'serve'],
    ['tcp', 'connect'],
    ['tcp', 'listen'],
    ['tcp', 'scan'],
    ['udp', 'send'],
  ];

  it('every <duration> option shows its default as a duration (500ms, 30s, 10m), never as milliseconds', async () => {
    const helps = await Promise.all(commands.map((c) => netkit([...c, '--help'])));
    let seen = 0;
    helps.forEach((help, i) => {
      expect(help.code, commands[i]!.join(' ')).toBe(0);
      for (const [flag, text] of optionEntries(help.stdout)) {
        if (!flag.includes('<duration>')) continue;
        const d = defaultOf(text);
        if (d === undefined) continue;
        seen += 1;
        expect(d, `${commands[i]!.join(' ')} ${flag}`).toMatch(/^\d+(ms|s|m|h)$/);
      }
    });
    expect(seen).toBeGreaterThan(15);
  });

  it('pop3 serve and http show the real defaults: 1s, 10m, 30s, 1000 connections', async () => {
    const [pop3, get] = await Promise.all([
      netkit(['pop3', 'serve', '--help']),
      netkit(['http', 'get', '--help']),
    ]);
    expect(defaultOf(entry(pop3.stdout, '--login-delay'))).toBe('1s');
    expect(defaultOf(entry(pop3.stdout, '--idle-timeout'))).toBe('10m');
    expect(defaultOf(entry(pop3.stdout, '--handshake-timeout'))).toBe('10s');
    expect(defaultOf(entry(pop3.stdout, '--max-connections'))).toBe('1000');
    expect(defaultOf(entry(get.stdout, '--timeout'))).toBe('30s');
  });

  it('the smtp, pop3, mail, ftp and http groups have examples', async () => {
    const groups = ['smtp', 'pop3', 'mail', 'ftp', 'http'];
    const helps = await Promise.all(groups.map((g) => netkit([g, '--help'])));
    helps.forEach((help, i) => {
      expect(help.code).toBe(0);
      const examples = help.stdout.split('\nExamples:\n')[1];
      expect(examples, groups[i]).toBeDefined();
      expect(examples).toContain(`$ netkit ${groups[i]} `);
    });
  });

  it('http request commands describe <url>; HEAD offers no body options, GET and POST do', async () => {
    const [get, head, post] = await Promise.all(
      ['get', 'head', 'post'].map((m) => netkit(['http', m, '--help'])),
    );
    for (const h of [get, head, post])
      expect(h.stdout).toMatch(/\nArguments:\n {2}url +http:\/\/ or https:\/\/ URL/);
    for (const flag of ['-d', '--data-file', '--form', '--json']) {
      expect(() => entry(head.stdout, flag)).toThrow();
      expect(entry(get.stdout, flag)).not.toBe('');
      expect(entry(post.stdout, flag)).not.toBe('');
    }
    expect(head.stdout).toMatch(/A HEAD request has no body/);
  });

  it('url subcommands describe their arguments', async () => {
    const subs: Array<[string, string[]]> = [
      ['parse', ['url']],
      ['join', ['base', 'refs']],
      ['qs', ['query']],
      ['encode', ['pairs']],
      ['quote', ['text']],
      ['unquote', ['text']],
      ['defrag', ['url']],
    ];
    const helps = await Promise.all(subs.map(([s]) => netkit(['url', s, '--help'])));
    helps.forEach((help, i) => {
      const args = help.stdout.split('\nArguments:\n')[1]?.split('\n\n')[0];
      expect(args, subs[i]![0]).toBeDefined();
      for (const name of subs[i]![1]) expect(args).toMatch(new RegExp(`^ {2}${name} +\\S`, 'm'));
    });
    const qs = helps[2]!.stdout;
    expect(entry(qs, '--encoding')).toMatch(/utf-8, latin-1, ascii/);
  });

  it('no help text holds a control character but newline (a raw ESC would reach the terminal)', async () => {
    const control = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;
    const offenders: string[] = [];
    const visit = (cmd: Command, words: string[]): void => {
      let text = '';
      cmd.configureOutput({ writeOut: (s) => (text += s) });
      cmd.outputHelp();
      const hit = control.exec(text);
      if (hit)
        offenders.push(`${words.join(' ')}: ${JSON.stringify(text.slice(hit.index - 20, hit.index + 5))}`);
      for (const sub of cmd.commands) visit(sub, [...words, sub.name()]);
    };
    const program = await fullProgram();
    visit(program, ['netkit']);
    expect(program.commands.length).toBeGreaterThan(10);
    expect(offenders).toEqual([]);
    // the real top-level help (main.ts builds its own program)
    const top = await netkit(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).not.toMatch(control);
  });

  it('smtp serve and mail serve list the --bare-newlines choices; "normalize" is still taken', async () => {
    for (const group of ['smtp', 'mail']) {
      const help = await netkit([group, 'serve', '--help']);
      expect(entry(help.stdout, '--bare-newlines')).toMatch(
        /\(choices: "reject", "normalise", default: "reject"\)/,
      );
    }
    const program = await fullProgram();
    const option = program.commands
      .find((c) => c.name() === 'smtp')!
      .commands.find((c) => c.name() === 'serve')!
      .options.find((o) => o.long === '--bare-newlines')!;
    expect(option.parseArg!('normalize', undefined)).toBe('normalise');
    expect(option.parseArg!('Normalise', undefined)).toBe('normalise');
    expect(option.parseArg!('REJECT', undefined)).toBe('reject');
  });

  it('multicast chat says --nick is required', async () => {
    const help = await netkit(['multicast', 'chat', '--help']);
    expect(entry(help.stdout, '--nick')).toMatch(/\(required\)/);
  });

  it('udp send --wait is a duration whose bare number is seconds, like tcp connect -w', async () => {
    const [udp, tcp] = await Promise.all([
      netkit(['udp', 'send', '--help']),
      netkit(['tcp', 'connect', '--help']),
    ]);
    const wait = entry(udp.stdout, '--wait');
    expect(wait).toMatch(/a bare number is seconds/);
    expect(defaultOf(wait)).toBe('0s');
    expect(entry(tcp.stdout, '--timeout')).toMatch(/a bare number is seconds/);
    // no example waits a bare number of milliseconds any more
    expect(udp.stdout).not.toMatch(/--wait \d+(?![\d.]*(ms|s|m|h))/);
  });
});

describe('servers name the option of an unreadable certificate or key (exit 1)', () => {
  const servers: Array<[string, string[]]> = [
    ['smtp', ['smtp', 'serve', '--port', '0']],
    ['pop3', ['pop3', 'serve', '--port', '0']],
    ['mail', ['mail', 'serve', '--smtp-port', '0', '--pop3-port', '0']],
    ['ftp', ['ftp', 'serve', '--port', '0']],
  ];
  for (const [name, args] of servers) {
    it(`${name} serve`, async () => {
      const data = path.join(dir, `data-${name}`);
      const missing = path.join(dir, 'nonexist.pem');
      const cert = await netkit([...args, '--data', data, '--cert', missing, '--key', missing]);
      expect(cert.code).toBe(1);
      expect(cert.stderr).toBe(`netkit: cannot read --cert ${missing}: no such file or directory\n`);
      const present = path.join(dir, `cert-${name}.pem`);
      await writeFile(present, 'not checked before the key is read\n');
      const key = await netkit([...args, '--data', data, '--cert', present, '--key', missing]);
      expect(key.code).toBe(1);
      expect(key.stderr).toBe(`netkit: cannot read --key ${missing}: no such file or directory\n`);
      const isDir = await netkit([...args, '--data', data, '--cert', dir, '--key', missing]);
      expect(isDir.code).toBe(1);
      expect(isDir.stderr).toBe(`netkit: cannot read --cert ${dir}: is a directory\n`);
    });
  }
});
