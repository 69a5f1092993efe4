import https from 'node:https';

export interface AgentTls {
  cert?: string;
  key?: string;
  ca: string;
}

/**
 * One raw POST to an agent operation, with whatever certificate the test
 * presents, bypassing the control plane. `body` is sent as is (a test may send
 * malformed JSON); `tolerateEarlyClose` waits for the answer when the agent
 * closes before reading everything (it answers 413 to an oversized body).
 */
export function postToAgent(
  url: string,
  slug: string,
  op: string,
  body: string | Buffer,
  tls: AgentTls,
  opts: { tolerateEarlyClose?: boolean } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(`/v1/${slug}/${op}`, url),
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        ...tls,
        servername: slug,
        agent: false,
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (opts.tolerateEarlyClose && (err.code === 'EPIPE' || err.code === 'ECONNRESET')) return;
      reject(err);
    });
    req.end(body);
  });
}

/** The same with `{args}` as the body. */
export const callAgent = (url: string, slug: string, op: string, args: unknown, tls: AgentTls) => postToAgent(url, slug, op, JSON.stringify({ args }), tls);
