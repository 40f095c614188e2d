/**
 * A request aborted through its `signal` fails as aborted (NETKIT_IO, the signal's reason as
 * `cause`), as a library user who cancels it expects — not as a connection failure: undici rejects
 * with the reason itself, a DOMException or whatever the caller aborted with, which the error
 * mapping once took for a failed connect (NETKIT_CONNECT_FAILED).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetkitError } from '../../src/core/errors.js';
import { httpRequest } from '../../src/http/request.js';

let server: http.Server;
let origin: string;
/** resolves when the next request reaches the server */
const requested = () => new Promise((resolve) => server.once('request', resolve));

beforeAll(async () => {
  server = http.createServer((req, res) => {
    // /head answers nothing; /body sends its headers and a first chunk of a longer body, then waits
    if (req.url === '/body') {
      res.writeHead(200, { 'Content-Length': '1000' });
      res.write('x'.repeat(100));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function failure(p: Promise<unknown>): Promise<NetkitError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(NetkitError);
    return err as NetkitError;
  }
  throw new Error('expected a failure');
}

describe('httpRequest with an aborted signal', () => {
  it('fails as aborted before it is sent', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await failure(httpRequest({ url: `${origin}/head`, signal: controller.signal }));
    expect([err.code, err.message]).toEqual(['NETKIT_IO', `request to ${origin.slice(7)} aborted`]);
    expect(err.cause).toBe(controller.signal.reason);
  });

  it('fails as aborted while waiting for the response, with the reason the caller gave', async () => {
    const controller = new AbortController();
    const reason = new Error('user pressed cancel');
    const reached = requested();
    const pending = failure(httpRequest({ url: `${origin}/head`, signal: controller.signal }));
    await reached;
    controller.abort(reason);
    const err = await pending;
    expect([err.code, err.message]).toEqual(['NETKIT_IO', `request to ${origin.slice(7)} aborted`]);
    expect(err.cause).toBe(reason);
  });

  it('fails as aborted while reading the body', async () => {
    const controller = new AbortController();
    // a dispatcher that aborts once the first body bytes have come: the response is in hand by then
    const agent = new Agent();
    const dispatcher = Object.create(agent) as Dispatcher;
    dispatcher.dispatch = (opts, handler) => {
      const h = handler as { onData?: (chunk: Buffer) => boolean };
      const onData = h.onData;
      h.onData = function (this: unknown, chunk) {
        const more = onData!.call(this, chunk);
        controller.abort();
        return more;
      };
      return agent.dispatch(opts, handler);
    };
    try {
      const err = await failure(
        httpRequest({ url: `${origin}/body`, signal: controller.signal, dispatcher }),
      );
      expect([err.code, err.message]).toEqual(['NETKIT_IO', `request to ${origin.slice(7)} aborted`]);
      expect(err.cause).toBe(controller.signal.reason);
    } finally {
      await agent.close();
    }
  });
});
