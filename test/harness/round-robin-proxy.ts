/**
 * A small load balancer for the multi-process tests: each request goes to
 * the next upstream in turn. An upstream that refuses the connection never
 * saw the request, so the request goes to the next one, as a load balancer
 * with passive health checks does; an upstream that dies after taking the
 * request leaves the client a 502 (the client sees it fail).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RoundRobinProxy {
  url: string;
  /** Requests each upstream answered, by upstream URL. */
  answered: Record<string, number>;
  /** Connections an upstream refused (the request went to the next one). */
  refused: Record<string, number>;
  /** Requests that reached an upstream which then failed them (the client got 502). */
  broken: number;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(upstreams: string[]): Promise<RoundRobinProxy> {
  let next = 0;
  const answered: Record<string, number> = Object.fromEntries(upstreams.map((u) => [u, 0]));
  const refused: Record<string, number> = Object.fromEntries(upstreams.map((u) => [u, 0]));
  const proxy = { answered, refused, broken: 0 };

  const forward = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, tries: number) => {
    const base = upstreams[next++ % upstreams.length]!;
    const target = new URL(req.url ?? '/', base);
    const up = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host }, agent: false }, (answer) => {
      answered[base]! += 1;
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' && tries + 1 < upstreams.length) {
        refused[base]! += 1;
        forward(req, body, res, tries + 1);
        return;
      }
      proxy.broken += 1;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: `upstream ${base} failed: ${err.code ?? err.message}` }));
      } else res.destroy();
    });
    up.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => forward(req, Buffer.concat(chunks), res, 0));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(proxy, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
