#!/usr/bin/env node
'use strict';
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
  import('../dist/cli/main.js');
}
