#!/bin/sh
':' //; export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-268435456}"; [ -n "$NODE_EXTRA_CA_CERTS" ] && exec env -u NODE_EXTRA_CA_CERTS NETKIT_DEFERRED_CA_CERTS="$NODE_EXTRA_CA_CERTS" node "$0" "$@"; exec node "$0" "$@"
'use strict';
// Lines 1-2 are a shell script for the shell and a string and a comment for JavaScript. Node 20
// parses NODE_EXTRA_CA_CERTS (often the whole system bundle, ~150 certificates) while the process
// starts, before any script runs: ~85 ms on every command, including the ones that never open a
// TLS connection (nodejs/node#40524; newer Node releases load them off-thread). So the shell moves
// the file name aside and netkit adds those certificates itself, on the first TLS handshake that
// uses Node's default trust (src/core/tls-trust.ts). `node bin/netkit.cjs` skips the shell part
// and leaves Node's own handling in place.
// The shell line also raises glibc's heap trim threshold (unless the user set one). With the
// default (128 KiB), the 64 KiB buffers Node allocates for every socket read are handed back to
// the kernel after each garbage collection and faulted in afresh: a 1 GiB download took ~340,000
// page faults and twice the kernel time; with 256 MiB it takes ~13,000. Held memory grows by what
// is freed, not by what is read (an FTP server with 300 sessions: +0.5 MiB).
const deferredCa = process.env.NETKIT_DEFERRED_CA_CERTS;
if (deferredCa !== undefined) {
  delete process.env.NETKIT_DEFERRED_CA_CERTS;
  // child processes see the environment the user set
  process.env.NODE_EXTRA_CA_CERTS = deferredCa;
  globalThis[Symbol.for('netkit.deferredExtraCaCerts')] = deferredCa;
}
// The `netkit` launcher. libuv's thread pool (file I/O, fsync, scrypt, DNS) has 4 threads by
// default, which serialises the servers' durable writes under load. The size must be set before
// the pool is first used — and the ES module loader itself uses it — so this tiny CommonJS file
// sets it and only then loads the CLI.
const args = process.argv.slice(2);
// Deprecation warnings are for the authors of the code they name (a dependency's, usually), not for
// someone running a command: they stay hidden unless --debug is given.
if (!args.includes('--debug')) process.noDeprecation = true;
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // the fastest path: no module graph at all
  process.stdout.write(`${require('../package.json').version}\n`);
} else {
  if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '16';
  // `ftp serve` holds hundreds of mostly idle sessions, and its transfers are block loops that make
  // few JavaScript calls per MiB: V8's top tier (TurboFan) buys it no speed, but the first function
  // it optimises maps ~4 MiB of compiler and code pages. Stopping at Maglev keeps a 300-session
  // server near 2x pyftpdlib's memory with unchanged transfer rates (see the README's benchmarks).
  const ftp = args.indexOf('ftp');
  if (ftp >= 0 && args[ftp + 1] === 'serve') require('node:v8').setFlagsFromString('--max-opt=2');
  // the CLI as one pre-linked module (scripts/bundle-cli.mjs): faster start-up than dist/cli/
  import('../dist/cli-bundle/main.js');
}
