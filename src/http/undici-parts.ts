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
  parts ??= load();
  return parts;
}
