/**
 * A seeded mutation fuzzer for our servers: it takes valid session transcripts (lists of client
 * lines), mutates them (bit flips, inserted NUL / 0xFF / CR / LF, deletions, truncation, duplicated,
 * dropped and reordered commands, overlong tokens, other line endings, lines spliced from other
 * sessions), plays the bytes over a real socket in writes split at random byte boundaries, and ends
 * the connection in one of several ways (FIN half-close, RST via `resetAndDestroy()`, plain close,
 * or waiting for the server to close). After each case the target's probe — a fresh, well-formed
 * session — must still get a correct answer, and no uncaught exception or unhandled rejection may
 * have happened in this process. Every case is derived from (seed, case index) alone, so a failure
 * names its reproducer: the mutated bytes and how they were played.
 *
 * Used by the bounded fuzz tests (test/core/fuzz-*.test.ts: fixed seed, a few hundred cases) and
 * by the exploratory runner (`npm run fuzz:mutations`: any seed, as many cases as you like).
 */
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { eventually } from './tls-hostile.js';

/** mulberry32: small, fast, and the same sequence on every machine for a seed. */
export class FuzzRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** an integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** A valid session: what a well-behaved client sends, one command (or body line) per entry. */
export type Transcript = readonly string[];

/** How the client leaves once every chunk is written (or, for `reset`, part-way). */
export type FuzzEnding = 'half-close' | 'reset' | 'close' | 'linger';

/** One fuzz case: everything needed to replay it. */
export interface FuzzCase {
  index: number;
  /** the transcript it was derived from (its position in the target's list) */
  transcript: number;
  /** the mutations applied, in order, for the report */
  mutations: string[];
  /** the writes, in order */
  chunks: Buffer[];
  /** wait for the server's first bytes (its greeting) before writing */
  awaitGreeting: boolean;
  /** after chunk i (index in this list), wait for the server's next bytes before the following write */
  awaitReplyAfter: number[];
  ending: FuzzEnding;
  /** for `reset`: the RST goes out after this many chunks */
  resetAfter: number;
}

const SPECIAL_BYTES = [0x00, 0xff, 0x0d, 0x0a, 0x20, 0x7f, 0x1b, 0x80, 0xc3, 0x2e, 0x3a, 0x3c];
const OVERLONG = [257, 513, 1025, 4097, 9000, 70_000];
const ENDINGS: readonly FuzzEnding[] = ['half-close', 'reset', 'close', 'linger'];

function eolOf(line: string): string {
  const m = /\r?\n$/.exec(line);
  return m ? m[0] : '';
}

/** One mutation of the line list, in place; returns its description. */
function mutateOnce(rng: FuzzRandom, lines: Buffer[], pool: readonly Transcript[]): string {
  if (lines.length === 0) {
    lines.push(Buffer.from(rng.pick(rng.pick(pool)) ?? ''));
    return 'spliced a line into an empty session';
  }
  const i = rng.int(lines.length);
  const line = lines[i]!;
  switch (rng.int(12)) {
    case 0: {
      if (line.length === 0) return 'nothing (empty line)';
      const at = rng.int(line.length);
      const bit = rng.int(8);
      const copy = Buffer.from(line);
      copy[at]! ^= 1 << bit;
      lines[i] = copy;
      return `line ${i}: flipped bit ${bit} of byte ${at}`;
    }
    case 1:
    case 2: {
      const at = rng.int(line.length + 1);
      const byte = rng.chance(0.8) ? rng.pick(SPECIAL_BYTES) : rng.int(256);
      const count = rng.chance(0.8) ? 1 : 1 + rng.int(40);
      lines[i] = Buffer.concat([line.subarray(0, at), Buffer.alloc(count, byte), line.subarray(at)]);
      return `line ${i}: inserted ${count} × 0x${byte.toString(16)} at ${at}`;
    }
    case 3: {
      const at = rng.int(line.length + 1);
      const n = 1 + rng.int(Math.max(1, line.length - at));
      lines[i] = Buffer.concat([line.subarray(0, at), line.subarray(at + n)]);
      return `line ${i}: deleted ${n} bytes at ${at}`;
    }
    case 4: {
      const n = 1 + rng.int(3);
      lines.splice(i, 0, ...Array.from({ length: n }, () => line));
      return `line ${i}: repeated ${n} more times`;
    }
    case 5: {
      const j = rng.int(lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return `swapped lines ${i} and ${j}`;
    }
    case 6:
      lines.splice(i, 1);
      return `dropped line ${i}`;
    case 7: {
      const text = line.toString('latin1');
      const eol = eolOf(text);
      const words = text.slice(0, text.length - eol.length).split(' ');
      const w = rng.int(words.length);
      const n = rng.pick(OVERLONG);
      words[w] = (words[w] || 'A').repeat(Math.ceil(n / Math.max(1, (words[w] || 'A').length))).slice(0, n);
      lines[i] = Buffer.from(words.join(' ') + eol, 'latin1');
      return `line ${i}: word ${w} made ${n} bytes long`;
    }
    case 8: {
      const text = line.toString('latin1');
      const eol = eolOf(text);
      const other = rng.pick(['\n', '\r', '', '\r\r\n', '\n\r', '\r\n\r\n', '\0\r\n']);
      lines[i] = Buffer.from(text.slice(0, text.length - eol.length) + other, 'latin1');
      return `line ${i}: line ending ${JSON.stringify(eol)} → ${JSON.stringify(other)}`;
    }
    case 9: {
      const from = rng.pick(pool);
      const spliced = from[rng.int(from.length)] ?? '';
      lines.splice(i, 0, Buffer.from(spliced));
      return `spliced ${JSON.stringify(spliced.slice(0, 60))} before line ${i}`;
    }
    case 10: {
      const text = line.toString('latin1');
      const eol = eolOf(text);
      const word = rng.pick([
        'é',
        '\u00ff',
        '日本',
        '\ud800',
        '\u2028',
        '%00',
        '%ff',
        '..',
        '/',
        '*',
        '-1',
        '99999999999999999999',
      ]);
      const at = rng.int(text.length - eol.length + 1);
      lines[i] = Buffer.concat([line.subarray(0, at), Buffer.from(word), line.subarray(at)]);
      return `line ${i}: inserted ${JSON.stringify(word)} at ${at}`;
    }
    default: {
      // the rest of the session is lost: truncation inside this line
      const at = rng.int(line.length + 1);
      lines.splice(i + 1);
      lines[i] = line.subarray(0, at);
      return `truncated at byte ${at} of line ${i}`;
    }
  }
}

/** Split `bytes` into writes at random byte boundaries (sometimes byte by byte, when short). */
function split(rng: FuzzRandom, bytes: Buffer): Buffer[] {
  if (bytes.length === 0) return [];
  if (bytes.length <= 64 && rng.chance(0.1)) return [...bytes].map((b) => Buffer.from([b]));
  const cuts = new Set<number>();
  const n = rng.int(9);
  for (let k = 0; k < n; k++) cuts.add(1 + rng.int(Math.max(1, bytes.length - 1)));
  const sorted = [...cuts].filter((c) => c < bytes.length).sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const c of sorted) {
    chunks.push(bytes.subarray(from, c));
    from = c;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

/** Case `index` of a run with `seed`: the same case every time. */
export function makeCase(seed: number, index: number, transcripts: readonly Transcript[]): FuzzCase {
  const rng = new FuzzRandom((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const transcript = rng.int(transcripts.length);
  const lines = transcripts[transcript]!.map((l) => Buffer.from(l));
  const mutations: string[] = [];
  // a few cases unmutated but played in odd ways (split writes, RST, half-close)
  const count = rng.chance(0.1) ? 0 : 1 + rng.int(4);
  for (let k = 0; k < count; k++) mutations.push(mutateOnce(rng, lines, transcripts));
  const chunks = split(rng, Buffer.concat(lines));
  const awaitReplyAfter: number[] = [];
  for (let c = 0; c < chunks.length - 1; c++) if (rng.chance(0.15)) awaitReplyAfter.push(c);
  return {
    index,
    transcript,
    mutations,
    chunks,
    awaitGreeting: rng.chance(0.7),
    awaitReplyAfter,
    ending: rng.pick(ENDINGS),
    resetAfter: rng.int(chunks.length + 1),
  };
}

/** A case as text: enough to replay it by hand. */
export function describeCase(c: FuzzCase): string {
  const bytes = Buffer.concat(c.chunks);
  const shown =
    bytes.length > 600
      ? `${JSON.stringify(bytes.subarray(0, 600).toString('latin1'))}…`
      : JSON.stringify(bytes.toString('latin1'));
  return [
    `case ${c.index} (transcript ${c.transcript}): ${c.mutations.join('; ') || 'no mutation'}`,
    `  bytes (${bytes.length}, latin1): ${shown}`,
    `  writes: ${c.chunks.map((ch) => ch.length).join('+')}; greeting awaited: ${c.awaitGreeting}; replies awaited after writes ${JSON.stringify(c.awaitReplyAfter)}; ending: ${c.ending}${c.ending === 'reset' ? ` after ${c.resetAfter} writes` : ''}`,
  ].join('\n');
}

/** What a target may do while a case plays: react to the server's bytes (FTP data connections). */
export interface PlayContext {
  socket: net.Socket;
  rng: FuzzRandom;
  /** a side socket (data connection) that goes when the case ends */
  track(socket: net.Socket): void;
}

export interface FuzzTarget {
  name: string;
  port(): number;
  transcripts: readonly Transcript[];
  /** called on each piece of server output */
  onData?(ctx: PlayContext, data: Buffer): void;
  /** a fresh well-formed session; throws when the answer is not the right one */
  probe(): Promise<void>;
  /** invariants of what the server stored, checked once its connections are all gone */
  checkStorage?(): Promise<void>;
  /** live connections of the server (to wait for before a storage check) */
  connections(): number;
  /** programming errors the server caught and reported since the last call (e.g. in its trace) */
  internalErrors?(): string[];
}

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** first case index (to replay one case: `first` = its index, `cases` = 1) */
  first?: number;
  /** longest wait for the server's bytes or its close, per step of a case (ms) */
  waitMs?: number;
  /** check storage every this many cases (and at the end) */
  checkEvery?: number;
  /** collect garbage (to catch leaked file handles) every this many cases (and at the end) */
  gcEvery?: number;
  /** called once per case, e.g. for progress */
  onCase?(c: FuzzCase): void;
}

export interface FuzzFailure {
  case: FuzzCase;
  error: string;
}

/**
 * uncaughtException / unhandledRejection in this process while fuzzing, and process warnings (a
 * file handle closed by the garbage collector is a descriptor leak; too many listeners is one too):
 * each one is a failure.
 */
export function watchProcessErrors(): { take(): string[]; stop(): void } {
  const seen: string[] = [];
  const onError = (err: unknown) => seen.push(`uncaught: ${(err as Error)?.stack ?? String(err)}`);
  const onRejection = (err: unknown) =>
    seen.push(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`);
  const onWarning = (w: Error) => seen.push(`warning: ${w.name}: ${w.message}`);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onRejection);
  process.on('warning', onWarning);
  return {
    take: () => seen.splice(0),
    stop: () => {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onRejection);
      process.off('warning', onWarning);
    },
  };
}

let gc: (() => void) | undefined;

/**
 * Collect garbage now (and let the warnings it causes be emitted), so that a file handle left
 * open — Node closes it when it collects it, with a warning — is reported by the case that leaked
 * it rather than at some later time.
 */
export async function collectGarbage(): Promise<void> {
  if (!gc) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
  for (let turn = 0; turn < 2; turn++) await new Promise((r) => setImmediate(r));
}

/** Resolve once `socket` has received more than `seen` bytes, closed, or `ms` passed. */
function moreOrClose(socket: net.Socket, got: () => number, seen: number, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (got() > seen || socket.destroyed) return resolve();
    const done = () => {
      clearTimeout(timer);
      socket.off('data', check);
      socket.off('close', done);
      resolve();
    };
    const check = () => {
      if (got() > seen) done();
    };
    const timer = setTimeout(done, ms);
    socket.on('data', check);
    socket.once('close', done);
  });
}

function closed(socket: net.Socket, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    const timer = setTimeout(resolve, ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Play one case against `target`. */
export async function playCase(target: FuzzTarget, c: FuzzCase, waitMs: number): Promise<void> {
  const rng = new FuzzRandom(c.index * 7919 + 1);
  const socket = net.connect(target.port(), '127.0.0.1');
  const side = new Set<net.Socket>();
  let got = 0;
  socket.on('error', () => {});
  const ctx: PlayContext = {
    socket,
    rng,
    track: (s) => {
      s.on('error', () => {});
      side.add(s);
    },
  };
  socket.on('data', (d: Buffer) => {
    got += d.length;
    target.onData?.(ctx, d);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    if (c.awaitGreeting) await moreOrClose(socket, () => got, 0, waitMs);
    for (let k = 0; k < c.chunks.length && !socket.destroyed; k++) {
      if (c.ending === 'reset' && k === c.resetAfter) break;
      const seen = got;
      if (!socket.write(c.chunks[k]!)) await closedOrDrained(socket, waitMs);
      if (c.awaitReplyAfter.includes(k)) await moreOrClose(socket, () => got, seen, waitMs);
      else await new Promise((r) => setImmediate(r));
    }
    switch (c.ending) {
      case 'reset':
        if (!socket.destroyed) socket.resetAndDestroy();
        break;
      case 'half-close':
        socket.end();
        await closed(socket, waitMs);
        break;
      case 'linger':
        await closed(socket, waitMs);
        break;
      case 'close':
        break;
    }
  } finally {
    socket.destroy();
    for (const s of side) s.destroy();
  }
}

function closedOrDrained(socket: net.Socket, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    }
    socket.once('drain', done);
    socket.once('close', done);
  });
}

/** Wait (bounded) until the target has let go of every connection. */
export async function targetSettled(target: FuzzTarget, ms = 10_000): Promise<void> {
  if (!(await eventually(() => target.connections() === 0, ms)))
    throw new Error(`${target.connections()} connection(s) still open after ${ms} ms`);
}

/**
 * Run `cases` cases from `seed` against `target`; returns the failures (empty: all well). A process
 * error is blamed on the case that was playing (or the one just before, for a late one).
 */
export async function fuzzTarget(target: FuzzTarget, opts: FuzzOptions): Promise<FuzzFailure[]> {
  const failures: FuzzFailure[] = [];
  const errors = watchProcessErrors();
  const waitMs = opts.waitMs ?? 200;
  const checkEvery = opts.checkEvery ?? 50;
  const gcEvery = opts.gcEvery ?? 1;
  const first = opts.first ?? 0;
  let last: FuzzCase | undefined;
  try {
    for (let i = first; i < first + opts.cases; i++) {
      const c = makeCase(opts.seed, i, target.transcripts);
      last = c;
      opts.onCase?.(c);
      const problems: string[] = [];
      await playCase(target, c, waitMs).catch((err) => problems.push(`playing: ${(err as Error).message}`));
      await target.probe().catch((err) => problems.push(`probe: ${(err as Error).message}`));
      if ((i - first + 1) % gcEvery === 0 || i === first + opts.cases - 1) await collectGarbage();
      if (target.checkStorage && ((i - first + 1) % checkEvery === 0 || i === first + opts.cases - 1)) {
        await targetSettled(target)
          .then(() => target.checkStorage!())
          .catch((err) => problems.push(`storage: ${(err as Error).message}`));
      }
      problems.push(
        ...errors.take(),
        ...(target.internalErrors?.() ?? []).map((e) => `internal error: ${e}`),
      );
      for (const error of problems) failures.push({ case: c, error });
      if (failures.length >= 5) break;
    }
    await targetSettled(target).catch((err) =>
      failures.push({ case: last!, error: `settling: ${(err as Error).message}` }),
    );
    for (const error of errors.take()) failures.push({ case: last!, error });
  } finally {
    errors.stop();
  }
  return failures;
}

/** Failures as one report: each case's reproducer and what went wrong. */
export function formatFailures(target: string, seed: number, failures: readonly FuzzFailure[]): string {
  return failures.map((f) => `${target} (seed ${seed}) ${describeCase(f.case)}\n  → ${f.error}`).join('\n\n');
}
