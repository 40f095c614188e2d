/**
 * `netkit completion bash|zsh|fish`: the scripts are loaded into the real shells and asked to
 * complete, as a user's TAB would — bash through its completion variables, zsh through a real
 * interactive zsh driven over a pseudo-terminal (fixtures/zsh-capture.zsh), fish through
 * `complete -C`. The tree they are generated from is the registered CLI itself, so every group and
 * subcommand must come out.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandTree, detectShell, valueKind } from '../../src/cli/completion.js';
import { GROUPS } from '../../src/cli/groups.js';
import { netkit, run, tempDir } from '../helpers/net.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
let dir: string;
let cleanup: () => Promise<void>;
const scripts: Record<string, string> = {};

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('netkit-completion-'));
  for (const shell of ['bash', 'zsh', 'fish']) {
    const r = await netkit(['completion', shell]);
    expect(r.code, r.stderr).toBe(0);
    scripts[shell] = path.join(dir, `netkit.${shell}`);
    await writeFile(scripts[shell]!, r.stdout);
  }
  // files for path completion
  await writeFile(path.join(dir, 'cert.pem'), 'x');
  await writeFile(path.join(dir, 'cert.key'), 'x');
}, 60_000);
afterAll(() => cleanup());

/** What bash offers for the last word of `words` (the line typed so far, split into words). */
async function bash(words: string[]): Promise<string[]> {
  const script = `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _netkit; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = await run('bash', ['-c', script, 'bash', scripts.bash!, ...words], { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

async function zsh(line: string): Promise<string[]> {
  const r = await run('zsh', [path.join(HERE, 'fixtures/zsh-capture.zsh'), scripts.zsh!, line], {
    cwd: dir,
    timeoutMs: 15_000,
  });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

async function fish(line: string): Promise<string[]> {
  const r = await run(
    'fish',
    ['--no-config', '-c', `source $argv[1]; complete -C "$argv[2]"`, scripts.fish!, line],
    {
      cwd: dir,
    },
  );
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')[0]!);
}

describe('value kinds from placeholders', () => {
  it.each([
    ['file', 'file'],
    ['file|dir|-', 'file'],
    ['dir', 'dir'],
    ['root', 'dir'],
    ['path', 'file'],
    ['host', 'none'],
    ['duration', 'none'],
    ['port', 'none'],
  ])('<%s> → %s', (placeholder, kind) => {
    expect(valueKind(placeholder).kind).toBe(kind);
  });
  it('choices win over the placeholder', () => {
    expect(valueKind('file', ['a', 'b'])).toEqual({ kind: 'choices', choices: ['a', 'b'] });
  });
  it('the shell comes from $SHELL', () => {
    expect(detectShell({ SHELL: '/usr/bin/zsh' })).toBe('zsh');
    expect(detectShell({ SHELL: '/bin/bash' })).toBe('bash');
    expect(detectShell({ SHELL: '/bin/tcsh' })).toBeUndefined();
    expect(detectShell({})).toBeUndefined();
  });
});

describe('the tree is the registered CLI', () => {
  it('has every group, with the subcommands each group registers', async () => {
    const tree = await commandTree();
    expect(tree.subcommands.map((c) => c.path[0]).sort()).toEqual(Object.keys(GROUPS).sort());
    const tcp = tree.subcommands.find((c) => c.path[0] === 'tcp')!;
    expect(tcp.subcommands.map((c) => c.path[1])).toEqual(['connect', 'listen', 'scan']);
    const get = tree.subcommands
      .find((c) => c.path[0] === 'ftp')!
      .subcommands.find((c) => c.path[1] === 'get')!;
    expect(get.options.find((o) => o.flags.includes('--output'))?.value?.kind).toBe('file');
    expect(get.options.find((o) => o.flags.includes('--continue'))?.value).toBeUndefined();
  });
});

describe('bash', () => {
  it('completes groups, subcommands and options', async () => {
    expect(await bash(['netkit', 'tc'])).toEqual(['tcp']);
    expect(await bash(['netkit', 'tcp', ''])).toEqual(['connect', 'listen', 'scan']);
    expect(await bash(['netkit', 'tcp', 'connect', '--ti'])).toEqual(['--timeout']);
    expect(await bash(['netkit', 'ftp', 'get', '--c'])).toEqual(['--continue', '--ca']);
  });
  it('skips option values and global options while finding the command', async () => {
    expect(await bash(['netkit', '--debug', 'ftp', 'mi'])).toEqual(['mirror']);
    expect(await bash(['netkit', 'http', 'get', '--timeout', '5s', '--ins'])).toEqual(['--insecure']);
    // a value that happens to be a subcommand name is still a value
    expect(await bash(['netkit', 'lab', '--data', 'serve', '--js'])).toEqual(['--json']);
  });
  it('completes choices and paths where the CLI takes them, nothing for hosts or durations', async () => {
    expect((await bash(['netkit', 'pop3', 'list', '--auth', ''])).sort()).toEqual(['plain', 'user']);
    for (const group of ['smtp', 'mail'])
      expect((await bash(['netkit', group, 'serve', '--bare-newlines', ''])).sort()).toEqual([
        'normalise',
        'reject',
      ]);
    expect((await bash(['netkit', 'pop3', 'serve', '--cert', 'cert.'])).sort()).toEqual([
      'cert.key',
      'cert.pem',
    ]);
    expect(await bash(['netkit', 'pop3', 'serve', '--cert=cert.p'])).toEqual(['--cert=cert.pem']);
    expect(await bash(['netkit', 'tcp', 'connect', '--timeout', ''])).toEqual([]);
  });
});

describe('zsh (a real interactive zsh)', () => {
  it('completes groups, subcommands, options, choices and paths', async () => {
    expect(await zsh('netkit tc')).toEqual(['tcp']);
    expect(await zsh('netkit tcp ')).toEqual(['connect', 'listen', 'scan']);
    expect(await zsh('netkit tcp connect --ti')).toEqual(['--timeout']);
    expect((await zsh('netkit pop3 list --auth ')).sort()).toEqual(['plain', 'user']);
    expect((await zsh('netkit pop3 serve --cert cert.')).sort()).toEqual(['cert.key', 'cert.pem']);
  }, 60_000);
});

describe('fish', () => {
  it('completes groups, subcommands, options, choices and paths', async () => {
    expect(await fish('netkit tc')).toEqual(['tcp']);
    expect(await fish('netkit tcp ')).toEqual(['connect', 'listen', 'scan']);
    expect(await fish('netkit tcp connect --ti')).toEqual(['--timeout']);
    expect((await fish('netkit pop3 list --auth ')).sort()).toEqual(['plain', 'user']);
    expect((await fish('netkit pop3 serve --cert cert.')).sort()).toEqual(['cert.key', 'cert.pem']);
    // no file names where a host is expected
    expect(await fish('netkit tcp connect cert')).toEqual([]);
  });
});

describe('the command', () => {
  it('picks the shell from $SHELL', async () => {
    const r = await netkit(['completion'], { env: { SHELL: '/usr/bin/fish' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^complete -c netkit /m);
  });
  it('refuses a shell it does not support, in one line (exit 2)', async () => {
    const r = await netkit(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('netkit: unsupported shell "tcsh" (use bash, zsh or fish)');
    const none = await netkit(['completion'], { env: { SHELL: '/bin/tcsh' } });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/cannot tell your shell from \$SHELL/);
  });
});
