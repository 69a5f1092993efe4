// The image's HEALTHCHECK: the API answers /healthz on its own port, over
// HTTPS when it serves TLS itself (the certificate is not checked: this is the
// loopback, asking whether the process is alive, not who it is).
import http from 'node:http';
import https from 'node:https';

const tls = Boolean(process.env.DRYDOCK_TLS_CERT);
const url = `${tls ? 'https' : 'http'}://127.0.0.1:${process.env.PORT || 3000}/healthz`;
const req = (tls ? https : http).get(url, { timeout: 4000, rejectUnauthorized: false }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timed out')));
req.on('error', (err) => {
  console.error(`${url}: ${err.message}`);
  process.exit(1);
});
