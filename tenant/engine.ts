/**
 * The few Docker Engine API calls the tenant driver makes (ping, info,
 * list and inspect containers, inspect and tag an image), over the engine's own socket
 * with node:http. A full client library cost the agent about 27 MB of
 * resident memory for these five requests.
 */
import http from 'node:http';
import { readBody } from './http-body.js';

export interface ContainerSummary {
  Id: string;
  Labels: Record<string, string>;
}

export interface ContainerInspect {
  Image: string;
  Config: { Image: string };
  State: { Status: string; Health?: { Status: string } };
  NetworkSettings: { Networks?: Record<string, { IPAddress?: string }> };
}

export interface DockerEngine {
  ping(): Promise<void>;
  info(): Promise<{ DockerRootDir?: string }>;
  /** Every container (running or not) carrying the label `key=value`. */
  listContainers(label: string): Promise<ContainerSummary[]>;
  inspectContainer(id: string): Promise<ContainerInspect>;
  inspectImage(ref: string): Promise<{ Id: string }>;
  tagImage(imageId: string, repo: string, tag: string): Promise<void>;
}

/** The engine answered with an error status (404: no such container or image). */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 30_000;
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

type Endpoint = { socketPath: string } | { host: string; port: number };

/** Where DOCKER_HOST points: its unix socket or plain-TCP address (the default socket when unset). */
export function engineEndpoint(dockerHost = process.env.DOCKER_HOST): Endpoint {
  if (!dockerHost) return { socketPath: '/var/run/docker.sock' };
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  const tcp = /^tcp:\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(dockerHost);
  if (tcp && !process.env.DOCKER_TLS_VERIFY) return { host: tcp[1]!.replace(/^\[|\]$/g, ''), port: Number(tcp[2]) };
  throw new Error(`DOCKER_HOST=${dockerHost} is not supported: use unix:///path/to/docker.sock or tcp://host:port without TLS`);
}

export function createDockerEngine(opts: { dockerHost?: string } = {}): DockerEngine {
  const endpoint = engineEndpoint(opts.dockerHost);

  function request<T>(method: 'GET' | 'POST', path: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const req = http.request({ ...endpoint, method, path, headers: { host: 'docker' }, timeout: REQUEST_TIMEOUT_MS }, (res) => {
        readBody(res, MAX_ANSWER_BYTES, () => new Error(`the engine's answer to ${path} is larger than ${MAX_ANSWER_BYTES} bytes`)).then((text) => {
          const status = res.statusCode ?? 0;
          if (status >= 400) {
            let message = text.trim();
            try {
              message = (JSON.parse(text) as { message?: string }).message ?? message;
            } catch {
              // not JSON: the text itself says what went wrong
            }
            return reject(new EngineError(`${method} ${path}: HTTP ${status} ${message}`, status));
          }
          try {
            resolve((text && res.headers['content-type']?.includes('json') ? JSON.parse(text) : text) as T);
          } catch (err) {
            reject(new Error(`the engine's answer to ${path} is not JSON: ${(err as Error).message}`));
          }
        }, reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from the engine within ${REQUEST_TIMEOUT_MS / 1000}s`)));
      req.on('error', reject);
      req.end();
    });
  }

  const id = (s: string) => encodeURIComponent(s);
  return {
    ping: () => request<string>('GET', '/_ping').then(() => undefined),
    info: () => request('GET', '/info'),
    listContainers: (label) => request('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [label] }))}`),
    inspectContainer: (containerId) => request('GET', `/containers/${id(containerId)}/json`),
    inspectImage: (ref) => request('GET', `/images/${id(ref)}/json`),
    tagImage: (imageId, repo, tag) => request<unknown>('POST', `/images/${id(imageId)}/tag?repo=${id(repo)}&tag=${id(tag)}`).then(() => undefined),
  };
}
