/**
 * Scripted HTTP servers for the downloader's bad-input tests: each one serves a buffer the way a
 * particular broken (or changing) server would, and records every request it saw.
 */
import http from 'node:http';
import type net from 'node:net';

export interface SeenRequest {
  method: string;
  range?: string;
  ifRange?: string;
}

export interface ScriptedServer {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export type Script = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  ctx: { count: number; range?: { start: number; end: number } },
) => void;

/** Parse `bytes=a-b` (the only form our downloader sends). */
export function simpleRange(header: string | undefined): { start: number; end: number } | undefined {
  const m = /^bytes=(\d+)-(\d+)$/.exec(header ?? '');
  return m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
}

export async function scriptedServer(script: Script): Promise<ScriptedServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const seen: SeenRequest = { method: req.method ?? '' };
    if (req.headers.range) seen.range = req.headers.range;
    if (req.headers['if-range']) seen.ifRange = String(req.headers['if-range']);
    requests.push(seen);
    script(req, res, { count: requests.length, range: simpleRange(req.headers.range) });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/file.bin`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A correct Range-capable answer for `data`, with the given validators. */
export function serveRanges(
  data: Buffer,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  headers: Record<string, string> = {},
): void {
  const base = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', ...headers };
  const r = simpleRange(req.headers.range);
  if (req.method === 'HEAD') {
    res.writeHead(200, { ...base, 'content-length': data.length });
    res.end();
  } else if (r) {
    const end = Math.min(r.end, data.length - 1);
    res.writeHead(206, {
      ...base,
      'content-range': `bytes ${r.start}-${end}/${data.length}`,
      'content-length': end - r.start + 1,
    });
    res.end(data.subarray(r.start, end + 1));
  } else {
    res.writeHead(200, { ...base, 'content-length': data.length });
    res.end(data);
  }
}
