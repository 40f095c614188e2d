/**
 * `netkit url`: parse, unparse, join, qs, encode, quote, unquote, defrag — thin wrappers over
 * src/http/url.ts (CPython 3.11 `urllib.parse` semantics). Each command prints one result for
 * humans, or one JSON line with `--json`.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { errorMessage, NetkitError, usageError } from '../core/errors.js';
import { maxOf } from '../core/format.js';
import { terminalSafe } from '../core/terminal-safe.js';
import {
  parseQs,
  parseQsl,
  quote,
  quotePlus,
  unquote,
  unquotePlus,
  urldefrag,
  urlencode,
  urljoin,
  urlparse,
  urlsplit,
  urlunparse,
  urlunsplit,
} from '../http/url.js';
import { normaliseEncoding } from '../http/url-codec.js';
import { action, dim, parseNonNegative, printJson } from './util.js';

/** The codecs `url qs` can decode with (Python names; aliases such as latin1 and us-ascii work too). */
const QS_ENCODINGS = 'utf-8, latin-1, ascii';

function parseEncoding(value: string): string {
  try {
    return normaliseEncoding(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a supported encoding (use ${QS_ENCODINGS})`);
  }
}

function parseSeparator(value: string): string {
  if (value === '') throw new InvalidArgumentError('the separator cannot be empty (e.g. "&" or ";")');
  return value;
}

/** Values with control, bidi and zero-width characters escaped: a table never drives the terminal. */
function printTable(rows: Array<[string, string | null]>): void {
  const width = maxOf(rows.map(([k]) => k.length));
  for (const [k, v] of rows)
    process.stdout.write(`${k.padEnd(width)}  ${v === null ? dim('(none)') : terminalSafe(v)}\n`);
}

function printResult(result: string, json: boolean | undefined, extra: Record<string, unknown> = {}): void {
  if (json) printJson({ ...extra, result });
  else process.stdout.write(`${result}\n`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const FIELDS6 = ['scheme', 'netloc', 'path', 'params', 'query', 'fragment'] as const;

/**
 * A JSON.parse error as one line: V8 quotes (part of) the input, newlines and all, so the message
 * would be cut at the first one, and counts positions in characters: we drop the quote and say
 * line and column.
 */
function jsonErrorWords(err: unknown, text: string): string {
  let words = (err instanceof Error ? err.message : String(err)).replace(
    /, (?:\.\.\.)?".*is not valid JSON$/s,
    '',
  );
  const at = / at position (\d+)(?: \(line \d+ column \d+\))?/.exec(words);
  if (at) {
    const before = text.slice(0, Number(at[1]));
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    words = words.replace(at[0], ` at line ${line}, column ${column}`);
  }
  return terminalSafe(words.replace(/\s+/g, ' ').trim());
}

function parseUnparseInput(text: string): { parts: Record<string, string>; split: boolean } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw usageError(`stdin is not JSON: ${jsonErrorWords(err, text)}`);
  }
  if (Array.isArray(value)) {
    if ((value.length !== 5 && value.length !== 6) || !value.every((v) => typeof v === 'string'))
      throw usageError('expected a JSON array of 5 (urlsplit) or 6 (urlparse) strings');
    const names = value.length === 6 ? FIELDS6 : (['scheme', 'netloc', 'path', 'query', 'fragment'] as const);
    return {
      parts: Object.fromEntries(names.map((n, i) => [n, value[i] as string])),
      split: value.length === 5,
    };
  }
  if (value && typeof value === 'object') {
    const parts: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      if (!(FIELDS6 as readonly string[]).includes(k)) continue; // e.g. hostname/port from `url parse --json`
      if (typeof v !== 'string') throw usageError(`field "${k}" must be a string`);
      parts[k] = v;
    }
    return { parts, split: false };
  }
  throw usageError('expected a JSON object {scheme, netloc, path, params, query, fragment} or an array');
}

export function register(program: Command): void {
  const url = program
    .command('url')
    .description("URL functions with Python's urllib.parse semantics")
    .addHelpText(
      'after',
      `
These follow CPython 3.11's urllib.parse exactly, not the WHATWG URL standard (no normalisation,
;params split off, relative references parsed without a base).

Examples:
  $ netkit url parse 'http://bob:pw@Example.COM:8080/a/b;p?x=1#top'
  $ netkit url join http://a/b/c/d ../g
  $ netkit url qs 'a=1&a=2&b=' --keep-blank --json
  $ netkit url encode q='hello world' lang=en`,
    );

  url
    .command('parse')
    .argument('<url>', 'the URL to split (quote it in the shell: & ? # ; are special)')
    .description('split a URL into scheme, netloc, path, params, query, fragment, user, host, port')
    .option('--json', 'print one JSON object')
    .option('--scheme <scheme>', 'default scheme when the URL has none', '')
    .option('--no-fragments', 'do not split off a #fragment (allow_fragments=False)')
    .option('--split', 'use urlsplit (no ;params field)')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit url parse 'https://user:pw@[::1]:8443/a;x?q=1#f'
  scheme    https
  netloc    user:pw@[::1]:8443
  path      /a
  params    x
  query     q=1
  fragment  f
  username  user
  password  pw
  hostname  ::1
  port      8443
  $ netkit url parse //example.org/x --scheme https --json`,
    )
    .action(
      action(
        (input: string, opts: { json?: boolean; scheme: string; fragments: boolean; split?: boolean }) => {
          let r: ReturnType<typeof urlparse> | ReturnType<typeof urlsplit>;
          try {
            r = opts.split
              ? urlsplit(input, opts.scheme, opts.fragments)
              : urlparse(input, opts.scheme, opts.fragments);
          } catch (err) {
            throw new NetkitError(
              'NETKIT_INVALID_INPUT',
              `invalid URL ${JSON.stringify(input)}: ${errorMessage(err)}`,
            );
          }
          let port: number | null = null;
          let portError: string | undefined;
          try {
            port = r.port;
          } catch (err) {
            portError = errorMessage(err);
          }
          const fields = {
            ...r.toJSON(),
            username: r.username,
            password: r.password,
            hostname: r.hostname,
            port,
          };
          if (opts.json) printJson(portError ? { ...fields, error: portError } : fields);
          else {
            const rows = Object.entries(fields).map(
              ([k, v]) => [k, v === null ? null : String(v)] as [string, string | null],
            );
            if (portError) rows[rows.length - 1] = ['port', `error: ${portError}`];
            printTable(rows);
          }
          if (portError) {
            process.stderr.write(`netkit: ${portError}\n`);
            process.exitCode = 2;
          }
        },
      ),
    );

  url
    .command('unparse')
    .description('join URL parts back into a URL (from options, or a JSON object/array on stdin)')
    .option('--scheme <s>', 'scheme')
    .option('--netloc <n>', 'network location: user:pass@host:port')
    .option('--path <p>', 'path')
    .option('--params <p>', ';params of the last path segment')
    .option('--query <q>', 'query, without "?"')
    .option('--fragment <f>', 'fragment, without "#"')
    .option('--json', 'print {"result": URL}')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit url unparse --scheme https --netloc example.org --path /a --query x=1
  https://example.org/a?x=1
  $ netkit url parse 'http://h/p?q' --json | netkit url unparse
  http://h/p?q
  $ echo '["http","h","p","","",""]' | netkit url unparse
  http://h/p`,
    )
    .action(
      action(
        async (opts: {
          scheme?: string;
          netloc?: string;
          path?: string;
          params?: string;
          query?: string;
          fragment?: string;
          json?: boolean;
        }) => {
          const given = FIELDS6.filter((f) => opts[f] !== undefined);
          let result: string;
          if (given.length > 0) {
            result = urlunparse(Object.fromEntries(given.map((f) => [f, opts[f]!])));
          } else {
            if (process.stdin.isTTY)
              throw usageError(
                'give at least one of --scheme --netloc --path --params --query --fragment, or JSON on stdin',
              );
            const { parts, split } = parseUnparseInput(await readStdin());
            result = split ? urlunsplit(parts) : urlunparse(parts);
          }
          printResult(result, opts.json);
        },
      ),
    );

  url
    .command('join')
    .argument('<base>', 'the base URL (the page the references appear on)')
    .argument('<refs...>', 'one or more references: absolute URLs, /paths, ../relative, ?query, #fragment')
    .description("resolve references against a base URL (Python's urljoin)")
    .option('--each', 'resolve every REF against BASE separately, one result per line')
    .option('--json', 'print {"base", "refs", "result"} (or "results" with --each)')
    .addHelpText(
      'after',
      `
With several REFs (and no --each) they are applied one after the other, like following links:
urljoin(urljoin(BASE, REF1), REF2)… — and only the final URL is printed.

Examples:
  $ netkit url join 'http://a/b/c/d;p?q' ../g
  http://a/b/g
  $ netkit url join http://h/docs/ guide/ ../api/ index.html
  http://h/docs/api/index.html
  $ netkit url join --each http://a/b/c/d g ./g /g //g`,
    )
    .action(
      action((base: string, refs: string[], opts: { each?: boolean; json?: boolean }) => {
        /** urljoin, naming the URL that does not parse: the base, or else the reference */
        const join = (from: string, ref: string): string => {
          try {
            return urljoin(from, ref);
          } catch (err) {
            let bad = `URL ${JSON.stringify(ref)}`;
            try {
              urlparse(from);
            } catch {
              bad = `${from === base ? 'base ' : ''}URL ${JSON.stringify(from)}`;
            }
            throw new NetkitError('NETKIT_INVALID_INPUT', `invalid ${bad}: ${errorMessage(err)}`);
          }
        };
        if (opts.each) {
          const results = refs.map((r) => join(base, r));
          if (opts.json) printJson({ base, refs, results });
          else for (const r of results) process.stdout.write(`${r}\n`);
          return;
        }
        const result = refs.reduce(join, base);
        printResult(result, opts.json, { base, refs });
      }),
    );

  url
    .command('qs')
    .argument('<query>', 'the query string without the leading "?", e.g. \'a=1&b=2\'')
    .description("parse a query string (Python's parse_qsl / parse_qs)")
    .option('--keep-blank', 'keep blank values (keep_blank_values=True)')
    .option('--strict', 'fail on malformed fields (strict_parsing=True)')
    .option('--separator <sep>', 'field separator (not empty)', parseSeparator, '&')
    .option(
      '--max-fields <n>',
      'fail when there are more fields than N (max_num_fields; 0 or more)',
      parseNonNegative,
    )
    .option(
      '--encoding <name>',
      `codec of the percent-decoded bytes: ${QS_ENCODINGS}`,
      parseEncoding,
      'utf-8',
    )
    .option('--json', 'print parse_qs as JSON: {"name": ["value", …]}')
    .option('--pairs', 'with --json: print parse_qsl pairs [["name","value"], …] (keeps the order)')
    .addHelpText(
      'after',
      `
A leading "?" is part of the first name, as in Python: pass the query alone.

Examples:
  $ netkit url qs 'q=hello+world&tag=a&tag=b'
  q    hello world
  tag  a
  tag  b
  $ netkit url qs 'a=1&b=' --keep-blank --json
  {"a":["1"],"b":[""]}`,
    )
    .action(
      action(
        (
          query: string,
          opts: {
            keepBlank?: boolean;
            strict?: boolean;
            separator: string;
            maxFields?: number;
            encoding: string;
            json?: boolean;
            pairs?: boolean;
          },
        ) => {
          const options = {
            keepBlankValues: opts.keepBlank,
            strictParsing: opts.strict,
            separator: opts.separator,
            maxNumFields: opts.maxFields,
            encoding: opts.encoding,
          };
          if (opts.json) {
            printJson(opts.pairs ? parseQsl(query, options) : { ...parseQs(query, options) });
            return;
          }
          const pairs = parseQsl(query, options);
          if (pairs.length) printTable(pairs);
        },
      ),
    );

  url
    .command('encode')
    .argument('<pairs...>', 'name=value pairs (split at the first "="); a name may repeat')
    .description("build a query string from name=value pairs (Python's urlencode)")
    .option('--safe <chars>', 'characters not to escape besides A-Z a-z 0-9 _ . - ~', '')
    .addOption(
      new Option('--quote-via <fn>', 'plus: space → "+" (quote_plus); quote: space → "%20"')
        .choices(['plus', 'quote'])
        .default('plus'),
    )
    .option('--json', 'print {"result": QUERY}')
    .addHelpText(
      'after',
      `
Each argument is split at its first "="; repeat a name to send it twice.

Examples:
  $ netkit url encode q='hello world' lang=en
  q=hello+world&lang=en
  $ netkit url encode path=/a/b --safe / --quote-via quote
  path=/a/b`,
    )
    .action(
      action((pairs: string[], opts: { safe: string; quoteVia: 'plus' | 'quote'; json?: boolean }) => {
        const query = pairs.map((p): [string, string] => {
          const i = p.indexOf('=');
          if (i === -1) throw usageError(`"${p}" is not name=value`);
          return [p.slice(0, i), p.slice(i + 1)];
        });
        printResult(
          urlencode(query, { safe: opts.safe, quoteVia: opts.quoteVia === 'quote' ? 'quote' : 'quotePlus' }),
          opts.json,
        );
      }),
    );

  url
    .command('quote')
    .argument('<text>', 'the text to percent-encode (UTF-8)')
    .description("percent-encode text (Python's quote / quote_plus)")
    .option('--safe <chars>', 'characters not to escape (default "/", or "" with --plus)')
    .option('--plus', 'quote_plus: space → "+", "/" escaped')
    .option('--json', 'print {"result": TEXT}')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit url quote '/a path/ü'
  /a%20path/%C3%BC
  $ netkit url quote 'a b&c' --plus
  a+b%26c`,
    )
    .action(
      action((text: string, opts: { safe?: string; plus?: boolean; json?: boolean }) => {
        printResult(opts.plus ? quotePlus(text, opts.safe ?? '') : quote(text, opts.safe ?? '/'), opts.json);
      }),
    );

  url
    .command('unquote')
    .argument('<text>', 'the text with %XX escapes to decode (as UTF-8)')
    .description("decode %XX escapes (Python's unquote / unquote_plus)")
    .option('--plus', 'unquote_plus: "+" → space first')
    .option('--json', 'print {"result": TEXT}')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit url unquote '/a%20path/%C3%BC'
  /a path/ü
  $ netkit url unquote 'a+b%26c' --plus
  a b&c`,
    )
    .action(
      action((text: string, opts: { plus?: boolean; json?: boolean }) => {
        printResult(opts.plus ? unquotePlus(text) : unquote(text), opts.json);
      }),
    );

  url
    .command('defrag')
    .argument('<url>', 'the URL whose #fragment is split off')
    .description("split off the #fragment (Python's urldefrag)")
    .option('--json', 'print {"url", "fragment"}')
    .addHelpText(
      'after',
      `
Examples:
  $ netkit url defrag 'http://h/doc#section-2'
  http://h/doc
  $ netkit url defrag 'http://h/doc#section-2' --json`,
    )
    .action(
      action((input: string, opts: { json?: boolean }) => {
        let r: ReturnType<typeof urldefrag>;
        try {
          r = urldefrag(input);
        } catch (err) {
          throw new NetkitError(
            'NETKIT_INVALID_INPUT',
            `invalid URL ${JSON.stringify(input)}: ${errorMessage(err)}`,
          );
        }
        if (opts.json) printJson(r);
        else process.stdout.write(`${r.url}\n`);
      }),
    );
}
