import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startTestControlPlane } from '../test/support.js';

describe('starting the control plane', () => {
  it('says the port is taken, and by which address, instead of claiming to serve it', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(startTestControlPlane({ port })).rejects.toThrow(`port ${port} on 127.0.0.1 is taken: stop what uses it, or set PORT to another port`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
