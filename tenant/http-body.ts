import type { IncomingMessage } from 'node:http';

/** A request's or response's body as text; one over `max` bytes is refused with `tooLarge()` and the rest drained. */
export function readBody(msg: IncomingMessage, max: number, tooLarge: () => Error): Promise<string> {
  return new Promise((resolve, reject) => {
    if (Number(msg.headers['content-length'] ?? 0) > max) {
      msg.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    msg.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        msg.removeAllListeners('data');
        msg.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    msg.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    msg.on('error', reject);
  });
}
