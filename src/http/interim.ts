/**
 * What undici's request() API does not hand over: the 1xx responses before the final one (103
 * Early Hints, 102 Processing) and the trailer fields after a chunked body, which curl -i shows as
 * the server sent them. request() passes a 1xx on without its reason phrase (its `onInfo` has the
 * code and headers only) and parses trailers into an object (names lower-cased, their order lost).
 * So each request's handler is watched on its way to the dispatcher: undici calls its `onHeaders`
 * for every 1xx with the status text and raw headers, and its `onComplete` with the raw trailers.
 *
 * What undici does not expose at all cannot be shown: a 100 Continue over HTTP/1.1 (undici closes
 * the connection on it: http-error.ts) and any 1xx over HTTP/2 (its h2 client does not listen for
 * them). Trailers come over both.
 */
import type { Dispatcher } from 'undici';

type HeaderList = Array<[string, string]>;

/** A 1xx response: status, reason phrase ('' when none) and headers as the server sent them. */
export interface InterimResponse {
  status: number;
  statusText: string;
  rawHeaders: HeaderList;
}

/** What one request's handler saw besides its final response. */
export interface Observed {
  /** 1xx responses, in order */
  interim: InterimResponse[];
  /** trailer fields, names as sent; filled in when the body has been read to its end */
  trailers: HeaderList;
}

type RawList = ReadonlyArray<Buffer | string> | null | undefined;

/** undici's raw header list (`[name, value, …]`, Buffers over HTTP/1.1) as pairs of byte strings. */
function pairs(raw: RawList | Record<string, string | string[] | undefined>): HeaderList {
  const out: HeaderList = [];
  if (!raw) return out;
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) out.push([latin1(raw[i]), latin1(raw[i + 1])]);
    return out;
  }
  // HTTP/2 trailers are node:http2's header object; its pseudo-headers are not fields
  for (const [k, v] of Object.entries(raw)) {
    if (k.startsWith(':') || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, String(one)]);
  }
  return out;
}

function latin1(v: Buffer | string | undefined): string {
  return Buffer.isBuffer(v) ? v.toString('latin1') : String(v ?? '');
}

interface LegacyHandler {
  onHeaders?: (statusCode: number, raw: RawList, resume: () => void, statusText: string) => boolean;
  onComplete?: (trailers: RawList) => void;
}

/**
 * `dispatcher` as seen by one request: its request() goes through the dispatcher as ever, and the
 * 1xx responses and trailers of that request are noted in `into`.
 */
export function observing(dispatcher: Dispatcher, into: Observed): Dispatcher {
  const view = Object.create(dispatcher) as Dispatcher;
  view.dispatch = (opts, handler) => {
    const h = handler as LegacyHandler;
    const { onHeaders, onComplete } = h;
    if (onHeaders)
      h.onHeaders = function (this: unknown, statusCode, raw, resume, statusText) {
        if (statusCode < 200) into.interim.push({ status: statusCode, statusText, rawHeaders: pairs(raw) });
        return onHeaders.call(this, statusCode, raw, resume, statusText);
      };
    if (onComplete)
      h.onComplete = function (this: unknown, trailers) {
        into.trailers.push(...pairs(trailers));
        return onComplete.call(this, trailers);
      };
    return dispatcher.dispatch(opts, handler);
  };
  return view;
}
