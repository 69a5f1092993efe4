import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'vitest';
import { startTestControlPlane, waitFor } from './support.js';

it('debug', async () => {
  const got: string[] = [];
  const server = createServer((req, res) => { let b = ''; req.on('data', (c) => (b += c)); req.on('end', () => { got.push(b); res.writeHead(200).end(); }); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const logs: string[] = [];
  const cp = await startTestControlPlane({ log: (m) => void logs.push(m) });
  try {
    const e = await cp.api('POST', '/api/notifications/endpoints', { name: 'x', kind: 'webhook', url: `${url}/a`, secret: 'abcdefghijklmnopqrstuvwxyz', events: ['upgrade.parked'] });
    console.log('created', e.status, e.body);
    const t = await cp.api('POST', `/api/notifications/endpoints/${e.body.id}/test`);
    console.log('test', t.status, t.body);
    await waitFor('got', async () => (got.length ? got : undefined), 20_000).catch(async (err) => {
      console.log('logs', logs.filter((l) => /notif/.test(l)));
      console.log('deliveries', await cp.db.prisma.notificationDelivery.findMany());
      const h = cp.temporal.workflow.getHandle(`notify-${e.body.id}`);
      console.log('describe', await h.describe().then((d) => d.status, (x) => String(x)));
      throw err;
    });
    console.log('GOT', got);
  } finally {
    await cp.stop();
    server.close();
  }
}, 60_000);
