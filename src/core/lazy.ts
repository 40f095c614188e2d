/**
 * Built-in modules loaded on first use rather than at start-up. Each one a server imports is
 * compiled and kept resident: `node:tls` with `node:crypto` adds about 2.5 MiB to every server
 * process, yet a server started with `--no-tls` and only anonymous logins never needs either.
 * `require` of a built-in is synchronous and cached, so callers stay synchronous.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const nodeTls = (): typeof import('node:tls') => require('node:tls');
export const nodeCrypto = (): typeof import('node:crypto') => require('node:crypto');
export const nodeDns = (): typeof import('node:dns/promises') => require('node:dns/promises');
