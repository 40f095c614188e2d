import { defineConfig } from 'vitest/config';

// The tests talk to servers on loopback: a proxy set for the machine (a CI runner behind one, say)
// must not capture their requests. Tests that exercise proxies set these themselves.
for (const name of ['http_proxy', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY']) {
  delete process.env[name];
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    fileParallelism: true,
  },
});
