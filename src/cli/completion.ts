/**
 * `netkit completion bash|zsh|fish`: a tab-completion script for the user's shell.
 *
 * The script is generated from the commander tree itself (every group loaded, every subcommand,
 * option and value placeholder), so it can never drift from the real CLI. It is static: pressing
 * TAB runs no Node process. Values are completed where the CLI can know them: choices, file and
 * directory placeholders (`<file>`, `<dir>`, `--cert`, …) complete paths, anything else (hosts,
 * ports, durations) offers nothing rather than guessing.
 */
import type { Command, Option } from 'commander';
import { usageError } from '../core/errors.js';
import { GROUPS } from './groups.js';
import { action } from './util.js';

type ValueKind =
  | { kind: 'none' }
  | { kind: 'file' }
  | { kind: 'dir' }
  | { kind: 'choices'; choices: string[] };

export interface CompletionOption {
  flags: string[];
  description: string;
  /** what the option's value is; undefined for a switch */
  value?: ValueKind;
}

export interface CompletionCommand {
  /** words from the program name down, e.g. ['tcp', 'connect'] */
  path: string[];
  description: string;
  subcommands: CompletionCommand[];
  options: CompletionOption[];
  /** what the positional arguments are (a file argument completes paths) */
  args: ValueKind;
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** What a value placeholder such as `<file|dir|->` or `<dir>` holds. */
export function valueKind(placeholder: string, choices?: readonly string[]): ValueKind {
  if (choices?.length) return { kind: 'choices', choices: [...choices] };
  const p = placeholder.toLowerCase();
  if (/^(dir|directory|root)$/.test(p)) return { kind: 'dir' };
  if (/file|dir|path|cert|key|jar|eml|local/.test(p)) return { kind: 'file' };
  return { kind: 'none' };
}

function describeOption(o: Option): CompletionOption {
  const flags = [o.short, o.long].filter((f): f is string => Boolean(f));
  const placeholder = /[<[]([^>\]]*)[>\]]/.exec(o.flags)?.[1];
  return {
    flags,
    description: o.description,
    ...(o.required || o.optional ? { value: valueKind(placeholder ?? '', o.argChoices) } : {}),
  };
}

function describeCommand(cmd: Command, path: string[]): CompletionCommand {
  const args = cmd.registeredArguments.map((a) => valueKind(a.name(), a.argChoices));
  const fileArg = args.find((a) => a.kind !== 'none');
  return {
    path,
    description: cmd.description().split('\n')[0] ?? '',
    subcommands: cmd.commands
      .filter((c) => c.name() !== 'help')
      .map((c) => describeCommand(c, [...path, c.name()])),
    options: [
      ...cmd.options.filter((o) => !o.hidden).map(describeOption),
      { flags: ['-h', '--help'], description: 'display help for command' },
    ],
    args: fileArg ?? { kind: 'none' },
  };
}

/** Every group (this one included) loaded and registered into one program (main.ts loads one). */
export async function fullProgram(): Promise<Command> {
  const { Command } = await import('commander');
  const all = new Command('netkit')
    .option('--debug', 'print stack traces on errors')
    .option('-V, --version', 'output the version number');
  for (const group of Object.values(GROUPS)) await (await group.load()).register(all);
  return all;
}

/** The whole command tree, as the completion scripts describe it. */
export async function commandTree(): Promise<CompletionCommand> {
  return describeCommand(await fullProgram(), []);
}

function walk(c: CompletionCommand, visit: (c: CompletionCommand) => void): void {
  visit(c);
  for (const s of c.subcommands) walk(s, visit);
}

/** A single-quoted shell word (bash, zsh and fish all read `'…'` literally except `'`). */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
function fishQuote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * bash (and zsh through `bashcompinit`): four lookup functions keyed by the command path, and a
 * completer that walks the typed words to find the path, skipping option values.
 */
export function bashScript(tree: CompletionCommand): string {
  const subs: string[] = [];
  const opts: string[] = [];
  const values: string[] = [];
  const argKinds: string[] = [];
  walk(tree, (c) => {
    const key = sq(c.path.join(' '));
    if (c.subcommands.length)
      subs.push(`    ${key}) echo ${sq(c.subcommands.map((s) => s.path.at(-1)).join(' '))} ;;`);
    opts.push(`    ${key}) echo ${sq(c.options.flatMap((o) => o.flags).join(' '))} ;;`);
    for (const o of c.options) {
      if (!o.value) continue;
      const kind = o.value.kind === 'choices' ? `choices ${o.value.choices.join(' ')}` : o.value.kind;
      for (const f of o.flags) values.push(`    ${sq(`${c.path.join(' ')}|${f}`)}) echo ${sq(kind)} ;;`);
    }
    if (c.args.kind !== 'none') {
      const kind = c.args.kind === 'choices' ? `choices ${c.args.choices.join(' ')}` : c.args.kind;
      argKinds.push(`    ${key}) echo ${sq(kind)} ;;`);
    }
  });
  return `# netkit tab completion for bash (and zsh via bashcompinit).
# Load it now:      source <(netkit completion bash)
# Load it always:   netkit completion bash > ~/.local/share/bash-completion/completions/netkit
_netkit_subcommands() {
  case "$1" in
${subs.join('\n')}
  esac
}
_netkit_options() {
  case "$1" in
${opts.join('\n')}
  esac
}
# what the value of option $2 of command $1 is: none, file, dir or "choices A B …"; empty = a switch
_netkit_value() {
  case "$1|$2" in
${values.join('\n')}
  esac
}
_netkit_args() {
  case "$1" in
${argKinds.join('\n')}
  esac
}
_netkit_complete_value() {
  case "$1" in
    file) COMPREPLY=($(compgen -f -- "$2")); compopt -o filenames 2>/dev/null ;;
    dir) COMPREPLY=($(compgen -d -- "$2")); compopt -o filenames 2>/dev/null ;;
    choices\\ *) COMPREPLY=($(compgen -W "\${1#choices }" -- "$2")) ;;
    *) COMPREPLY=() ;;
  esac
}
_netkit() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath="" word kind i skip=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$word" in
      --*=*) ;;
      -*) [[ -n "$(_netkit_value "$cmdpath" "$word")" ]] && skip=1 ;;
      *) [[ " $(_netkit_subcommands "$cmdpath") " == *" $word "* ]] && cmdpath="\${cmdpath:+$cmdpath }$word" ;;
    esac
  done
  if ((skip)); then
    _netkit_complete_value "$(_netkit_value "$cmdpath" "\${COMP_WORDS[COMP_CWORD-1]}")" "$cur"
    return
  fi
  if [[ "$cur" == --*=* ]]; then
    kind="$(_netkit_value "$cmdpath" "\${cur%%=*}")"
    _netkit_complete_value "$kind" "\${cur#*=}"
    local prefix="\${cur%%=*}="
    [[ -n "$kind" ]] && COMPREPLY=("\${COMPREPLY[@]/#/$prefix}")
    return
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_netkit_options "$cmdpath")" -- "$cur"))
    return
  fi
  local subs
  subs="$(_netkit_subcommands "$cmdpath")"
  if [[ -n "$subs" ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return
  fi
  _netkit_complete_value "$(_netkit_args "$cmdpath")" "$cur"
}
complete -F _netkit netkit
`;
}

export function zshScript(tree: CompletionCommand): string {
  return `#compdef netkit
# netkit tab completion for zsh (the bash completer, through zsh's bashcompinit).
# Load it now:      source <(netkit completion zsh)
# Load it always:   netkit completion zsh > "\${fpath[1]}/_netkit"   (then start a new shell)
autoload -U +X compinit && { (( $+functions[compdef] )) || compinit -u }
autoload -U +X bashcompinit && bashcompinit
${bashScript(tree)
  .split('\n')
  .filter((l) => !l.startsWith('# '))
  .join('\n')}`;
}

/** fish: one `complete` line per subcommand and option, conditioned on the words seen so far. */
export function fishScript(tree: CompletionCommand): string {
  const lines = [
    '# netkit tab completion for fish.',
    '# Load it now:      netkit completion fish | source',
    '# Load it always:   netkit completion fish > ~/.config/fish/completions/netkit.fish',
    'complete -c netkit -f',
  ];
  const condition = (c: CompletionCommand): string => {
    if (c.path.length === 0) return '__fish_use_subcommand';
    const seen = c.path.map((w) => `__fish_seen_subcommand_from ${w}`);
    const deeper = c.subcommands.map((s) => s.path.at(-1)).join(' ');
    return [...seen, ...(deeper ? [`not __fish_seen_subcommand_from ${deeper}`] : [])].join('; and ');
  };
  const valueFlags = (v: ValueKind | undefined): string => {
    if (!v) return '';
    if (v.kind === 'file' || v.kind === 'dir') return ' -r -F';
    if (v.kind === 'choices') return ` -x -a ${fishQuote(v.choices.join(' '))}`;
    return ' -x';
  };
  walk(tree, (c) => {
    const cond = fishQuote(condition(c));
    for (const s of c.subcommands) {
      lines.push(
        `complete -c netkit -n ${cond} -a ${fishQuote(s.path.at(-1) ?? '')} -d ${fishQuote(s.description)}`,
      );
    }
    for (const o of c.options) {
      const names = o.flags
        .map((f) => (f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`))
        .join(' ');
      lines.push(
        `complete -c netkit -n ${cond} ${names}${valueFlags(o.value)} -d ${fishQuote(o.description)}`,
      );
    }
    if (c.args.kind === 'file' || c.args.kind === 'dir') lines.push(`complete -c netkit -n ${cond} -F`);
    if (c.args.kind === 'choices') {
      lines.push(`complete -c netkit -n ${cond} -a ${fishQuote(c.args.choices.join(' '))}`);
    }
  });
  return `${lines.join('\n')}\n`;
}

export function completionScript(shell: Shell, tree: CompletionCommand): string {
  if (shell === 'bash') return bashScript(tree);
  if (shell === 'zsh') return zshScript(tree);
  return fishScript(tree);
}

/** The shell the user runs, from $SHELL (`/usr/bin/zsh` → zsh). */
export function detectShell(env: NodeJS.ProcessEnv = process.env): Shell | undefined {
  const name = (env.SHELL ?? '').split('/').pop() ?? '';
  return (SHELLS as readonly string[]).includes(name) ? (name as Shell) : undefined;
}

export function register(program: Command): void {
  program
    .command('completion')
    .description('print a tab-completion script for bash, zsh or fish')
    .argument('[shell]', 'bash, zsh or fish (default: from $SHELL)')
    .addHelpText(
      'after',
      `
The script completes every command, subcommand and option, the choices of options that have
them, and file names where a command takes a file or directory. It runs no node process when
you press TAB.

Examples:
  $ source <(netkit completion bash)                      try it in this bash session
  $ netkit completion bash > ~/.local/share/bash-completion/completions/netkit
  $ netkit completion zsh > "\${fpath[1]}/_netkit"          zsh (start a new shell after)
  $ netkit completion fish > ~/.config/fish/completions/netkit.fish`,
    )
    .action(
      action(async (shellArg: string | undefined) => {
        const shell = shellArg ?? detectShell();
        if (!shell) throw usageError('cannot tell your shell from $SHELL: name it (bash, zsh or fish)');
        if (!(SHELLS as readonly string[]).includes(shell)) {
          throw usageError(`unsupported shell "${shell}" (use bash, zsh or fish)`);
        }
        process.stdout.write(completionScript(shell as Shell, await commandTree()));
      }),
    );
}
