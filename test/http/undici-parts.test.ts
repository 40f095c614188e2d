// undiciParts() must give working classes without loading undici's index (which pulls in fetch,
// WebSocket, caches and mocks: most of a one-shot request's start-up). Checked in a fresh Node
// process, since the test runner itself may have loaded undici.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/net.js';

describe('undiciParts', () => {
  it('loads Agent, ProxyAgent and the request API without undici/index.js', () => {
    const mod = path.join(ROOT, 'dist/http/undici-parts.js');
    const script = `
      const { undiciParts } = await import(${JSON.stringify(mod)});
      const { createRequire } = await import('node:module');
      const { Agent, ProxyAgent, Dispatcher } = undiciParts();
      const agent = new Agent();
      const out = {
        request: typeof agent.request,
        proxyRequest: typeof ProxyAgent.prototype.request,
        isDispatcher: agent instanceof Dispatcher,
        same: undiciParts().Agent === Agent,
        index: Object.keys(createRequire(import.meta.url).cache).some((f) => f.endsWith('/undici/index.js')),
      };
      await agent.close();
      console.log(JSON.stringify(out));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({
      request: 'function',
      proxyRequest: 'function',
      isDispatcher: true,
      same: true,
      index: false,
    });
  });
});
