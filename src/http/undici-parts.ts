/**
 * The parts of undici the HTTP client and the downloader use — `Agent`, `Pool`, `ProxyAgent`, the
 * `Dispatcher` base with its `request()` API and `buildConnector` — loaded without undici's index,
 * and `ProxyAgent` (with the rest of the API: stream, pipeline, connect, upgrade) only when a
 * request goes through a proxy.
 *
 * The index loads all of undici (fetch, WebSocket, caches, mocks, and through them Node's own
 * bundled copy of undici): ~150 ms of CPU before the first byte of a one-shot `netkit http get`,
 * three times what these parts cost. The index attaches the API with
 * `Object.assign(Dispatcher.prototype, api)`; we do the same (same module instances, so it is
 * idempotent if the index is loaded later), and fall back to the index should a future undici
 * move or close these paths. Loaded on first use: `http serve` never needs any of it.
 */
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import type { Agent, buildConnector, Dispatcher, Pool, ProxyAgent } from 'undici';

export interface UndiciParts {
  Agent: typeof Agent;
  Pool: typeof Pool;
  ProxyAgent: typeof ProxyAgent;
  Dispatcher: typeof Dispatcher;
  buildConnector: typeof buildConnector;
}

/** Response headers accepted, in all: curl's limit (undici's default is Node's 16 KiB). */
export const MAX_RESPONSE_HEADER_BYTES = 300 * 1024;

/** Redirects followed by default, by both clients: Python's urllib (and aria2c, wget) stop at 20 too. */
export const DEFAULT_MAX_REDIRECTS = 20;

/** The undici modules we use, by the paths undici's package lays them out (undici 7). */
export const UNDICI_MODULES = {
  dispatcher: 'undici/lib/dispatcher/dispatcher.js',
  request: 'undici/lib/api/api-request.js',
  api: 'undici/lib/api/index.js',
  agent: 'undici/lib/dispatcher/agent.js',
  pool: 'undici/lib/dispatcher/pool.js',
  proxyAgent: 'undici/lib/dispatcher/proxy-agent.js',
  connect: 'undici/lib/core/connect.js',
} as const;

type Require = (id: string) => unknown;

let parts: UndiciParts | undefined;

/**
 * What loads {@link UNDICI_MODULES}: the CLI bundle (scripts/bundle-cli.mjs) has them pre-linked in
 * one file beside its chunks, `undici.cjs` (a function from those paths to the modules), which
 * loads in ~25 ms less than some forty files from node_modules; the library finds no such file
 * beside dist/http/ and requires them from node_modules.
 */
function modulesRequire(require: NodeJS.Require): Require {
  try {
    return require('./undici.cjs') as Require;
  } catch {
    return require;
  }
}

function load(): UndiciParts {
  const require = createRequire(import.meta.url);
  try {
    const deep = modulesRequire(require);
    const Dispatcher = deep(UNDICI_MODULES.dispatcher) as typeof import('undici').Dispatcher;
    // request() is all a direct request uses; the rest of the API comes with the ProxyAgent below
    if (typeof Dispatcher.prototype.request !== 'function')
      Dispatcher.prototype.request = deep(UNDICI_MODULES.request) as Dispatcher['request'];
    let proxyAgent: typeof ProxyAgent | undefined;
    const found: UndiciParts = {
      Dispatcher,
      Agent: deep(UNDICI_MODULES.agent) as typeof Agent,
      Pool: deep(UNDICI_MODULES.pool) as typeof Pool,
      // only a proxied request needs it (and its CONNECT tunnels need the whole API)
      get ProxyAgent() {
        proxyAgent ??= loadProxyAgent(deep, require, Dispatcher);
        return proxyAgent;
      },
      buildConnector: deep(UNDICI_MODULES.connect) as typeof buildConnector,
    };
    if (
      typeof found.Dispatcher.prototype.request === 'function' &&
      typeof found.Agent.prototype.request === 'function' &&
      typeof found.Pool.prototype.request === 'function' &&
      typeof found.buildConnector === 'function'
    )
      return found;
  } catch {
    // fall through to the public entry point
  }
  const undici = require('undici') as typeof import('undici');
  return {
    Agent: undici.Agent,
    Pool: undici.Pool,
    ProxyAgent: undici.ProxyAgent,
    Dispatcher: undici.Dispatcher,
    buildConnector: undici.buildConnector,
  };
}

/** ProxyAgent, with the whole request API its CONNECT tunnels use (from the index if need be). */
function loadProxyAgent(
  deep: Require,
  require: NodeJS.Require,
  dispatcher: typeof Dispatcher,
): typeof ProxyAgent {
  try {
    if (typeof dispatcher.prototype.connect !== 'function')
      Object.assign(dispatcher.prototype, deep(UNDICI_MODULES.api));
    const found = deep(UNDICI_MODULES.proxyAgent) as typeof ProxyAgent;
    if (typeof found.prototype.request === 'function' && typeof found.prototype.connect === 'function')
      return found;
  } catch {
    // fall through to the public entry point
  }
  return (require('undici') as typeof import('undici')).ProxyAgent;
}

/** undici's Agent, Pool, ProxyAgent, Dispatcher and buildConnector, loaded once on the first call. */
export function undiciParts(): UndiciParts {
  if (!parts) {
    parts = load();
    baselineWasmOnly();
  }
  return parts;
}

/**
 * The only WebAssembly we run is undici's HTTP parser, compiled on the first connection. By
 * default V8 also recompiles it with its optimising tier on a background thread, and a one-shot
 * command waits for that at exit (~150 ms of `netkit http get` here); the baseline code parses as
 * fast for our use (1 GiB download: same CPU), so the optimising tier is switched off.
 *
 * Set here, after undici and the built-in modules it needs are loaded, not at start-up: any V8
 * flag change makes V8 reject Node's embedded code cache, and every built-in module loaded after
 * it is compiled from source (~30 ms more start-up for a download, measured with --cpu-prof).
 */
function baselineWasmOnly(): void {
  setFlagsFromString('--liftoff-only');
}
