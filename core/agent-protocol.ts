/**
 * The wire protocol between the control plane's remote driver and the agent:
 * one HTTPS endpoint per execution-driver method, `POST /v1/<slug>/<method>`
 * with `{"args": [...]}`. Both sides read this table, and it is typed over the
 * ExecutionDriver interface, so a method added there does not compile until
 * the agent says how it serves it.
 *
 * Answers: a refusal before the operation starts is a plain JSON error with a
 * 4xx status, `{code, message, output?}`. Once it starts, the answer is 200
 * NDJSON: `{"progress": line}` and `{"keepalive": true}` lines while it runs,
 * then one final line, `{"done": true, "result": …}` or
 * `{"done": true, "error": {code, message, output?}}`. The request stays open
 * until the operation ends; closing it aborts the operation (the compose child
 * is stopped).
 */
import type { ExecutionDriver } from './driver.js';

export const AGENT_API_PREFIX = '/v1';

export interface OperationSpec {
  /** Positional arguments sent; a long operation's OperationOptions come after them and stay local. */
  args: number;
  /** Runs compose for minutes: output lines are streamed as progress. */
  long?: boolean;
  /** Changes the tenant: serialised per tenant by the agent's lock. */
  mutates?: boolean;
  /** Largest request body the agent reads. */
  maxBodyBytes: number;
}

const SMALL = 64 * 1024;
/** Managed files (and a snapshot of them) travel whole. */
const FILES = 16 * 1024 * 1024;

export const AGENT_OPERATIONS: { [K in keyof ExecutionDriver]-?: OperationSpec } = {
  ping: { args: 0, maxBodyBytes: SMALL },
  listServices: { args: 1, maxBodyBytes: SMALL },
  contentManifest: { args: 1, maxBodyBytes: SMALL },
  readFiles: { args: 1, maxBodyBytes: SMALL },
  fileChecksums: { args: 1, maxBodyBytes: SMALL },
  writeFiles: { args: 2, mutates: true, maxBodyBytes: FILES },
  pull: { args: 2, long: true, mutates: true, maxBodyBytes: SMALL },
  recreate: { args: 2, long: true, mutates: true, maxBodyBytes: SMALL },
  upAll: { args: 2, long: true, mutates: true, maxBodyBytes: SMALL },
  containerStates: { args: 1, maxBodyBytes: SMALL },
  // Two or three of the calls above in one request (an agent older than them answers 404: the control plane falls back to those calls).
  serviceStates: { args: 1, maxBodyBytes: SMALL },
  pinRunningImages: { args: 3, mutates: true, maxBodyBytes: SMALL },
  validateCompose: { args: 1, maxBodyBytes: SMALL },
  diskFree: { args: 0, maxBodyBytes: SMALL },
  snapshotFiles: { args: 1, mutates: true, maxBodyBytes: SMALL },
  restoreFiles: { args: 1, mutates: true, maxBodyBytes: FILES },
  imageIds: { args: 1, maxBodyBytes: SMALL },
  tagImage: { args: 2, mutates: true, maxBodyBytes: SMALL },
  httpProbe: { args: 3, maxBodyBytes: SMALL },
};

export type AgentOperation = keyof typeof AGENT_OPERATIONS;

export function isAgentOperation(name: string): name is AgentOperation {
  return Object.prototype.hasOwnProperty.call(AGENT_OPERATIONS, name);
}

export interface AgentErrorBody {
  code: string;
  message: string;
  output?: string;
}

export type AgentStreamLine =
  | { progress: string }
  | { keepalive: true }
  | { done: true; result?: unknown }
  | { done: true; error: AgentErrorBody };

/** The agent sends a keepalive line this often while an operation runs. */
export const AGENT_KEEPALIVE_MS = 15_000;
