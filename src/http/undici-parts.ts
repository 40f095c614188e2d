/**
 * The parts of undici the HTTP client and the downloader use — `Agent`, `ProxyAgent`, the
 * `Dispatcher` base with its `request()` API and `buildConnector` — loaded without undici's index.
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
import type { Agent, buildConnector, Dispatcher, ProxyAgent } from 'undici';

export interface UndiciParts {
  Agent: typeof Agent;
  ProxyAgent: typeof ProxyAgent;
  Dispatcher: typeof Dispatcher;
  buildConnector: typeof buildConnector;
}

/** Response headers accepted, in all: curl's limit (undici's default is Node's 16 KiB). */
export const MAX_RESPONSE_HEADER_BYTES = 300 * 1024;

let parts: UndiciParts | undefined;

function load(): UndiciParts {
  const require = createRequire(import.meta.url);
  try {
    const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof import('undici').Dispatcher;
    if (typeof Dispatcher.prototype.request !== 'function')
      Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js'));
    const found: UndiciParts = {
      Dispatcher,
      Agent: require('undici/lib/dispatcher/agent.js'),
      ProxyAgent: require('undici/lib/dispatcher/proxy-agent.js'),
      buildConnector: require('undici/lib/core/connect.js'),
    };
    if (
      typeof found.Agent.prototype.request === 'function' &&
      typeof found.ProxyAgent.prototype.request === 'function' &&
      typeof found.buildConnector === 'function'
    )
      return found;
  } catch {
    // fall through to the public entry point
  }
  const undici = require('undici') as typeof import('undici');
  return {
    Agent: undici.Agent,
    ProxyAgent: undici.ProxyAgent,
    Dispatcher: undici.Dispatcher,
    buildConnector: undici.buildConnector,
  };
}

/** undici's Agent, ProxyAgent, Dispatcher and buildConnector, loaded once on the first call. */
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
