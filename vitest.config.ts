import { defineConfig } from 'vitest/config';

// The tests talk to servers on loopback: a proxy set for the machine (a CI runner behind one, say)
// must not capture their requests. Tests that exercise proxies set these themselves.
for (const name of ['http_proxy', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY']) {
  delete process.env[name];
}

// The peers run in one known locale: UTF-8, so that lftp and Python read and write the non-ASCII
// file names the tests use (in the C locale of a bare CI machine lftp turns `é` into `??`), and
// English, so that their messages are the ones the tests expect.
process.env.LC_ALL = 'C.UTF-8';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    fileParallelism: true,
  },
});
