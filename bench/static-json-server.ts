/**
 * The status benchmark's baseline: node:http answering every request with
 * the same JSON bytes the API answers for the upgrade, nothing else (no
 * routing, auth or database). Prints `READY <port>`; body from BENCH_BODY_FILE.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';

const body = readFileSync(process.env.BENCH_BODY_FILE ?? '', 'utf8');
const length = Buffer.byteLength(body);
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`READY ${typeof a === 'object' && a ? a.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
