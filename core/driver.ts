/**
 * The execution-driver interface: every tenant-side operation a workflow step
 * needs. Two transports implement it: local (the tenant logic in-process, same
 * host) and remote (the same logic behind the agent, over mTLS).
 */
import type { ContainerState, ContentManifest } from './types.js';


export interface OperationOptions {
  signal?: AbortSignal;
  /** Called with each line of output, so long steps can heartbeat progress. */
  onProgress?: (line: string) => void;
}


export interface ExecutionDriver {
  /** Fails with `engine-unreachable` when the Docker engine does not answer. */
  ping(): Promise<void>;
  listServices(env?: Record<string, string>): Promise<string[]>;
  contentManifest(dirs: readonly string[]): Promise<ContentManifest>;
  /** utf8 content of managed files, null where absent. */
  readFiles(paths: string[]): Promise<Record<string, string | null>>;
  /** sha256 (hex) of managed files' bytes, null where absent: drift detection compares these before reading any file. */
  fileChecksums(paths: string[]): Promise<Record<string, string | null>>;
  /**
   * Compares proposed content with each managed file: status and a unified
   * diff (`.env` values masked), cut at maxDiffBytes per file.
   */
  /** Atomic per file and idempotent: identical content is not rewritten. Only `managed` paths. */
  writeFiles(managed: readonly string[], files: { path: string; content: string }[]): Promise<{ written: string[]; unchanged: string[] }>;
  /** No services: pull every service of the compose file. */
  pull(services: string[], env: Record<string, string>, opts?: OperationOptions): Promise<void>;
  recreate(services: string[], env: Record<string, string>, opts?: OperationOptions): Promise<void>;
  /** `up -d` of the whole project: what changed is recreated, what is new is created. */
  /** `--remove-orphans` only when removeOrphans (the release allows it; null or absent: yes, as before releases). */
  upAll(env: Record<string, string>, removeOrphans?: boolean | null, opts?: OperationOptions): Promise<void>;
  containerStates(services: string[]): Promise<ContainerState[]>;
  /** listServices then containerStates of what it lists, in one call. */
  serviceStates(env: Record<string, string>): Promise<{ services: string[]; states: ContainerState[] }>;
  /**
   * Writes the image pin (core/image-pin.ts nextImagePin) with the images the
   * services' containers run now; null: every service the compose file
   * declares (listed with env). `merge` keeps the pinned images of the other
   * services (a Quick Upgrade). Resolves with the services it looked at.
   */
  pinRunningImages(services: string[] | null, env: Record<string, string>, merge: boolean): Promise<string[]>;
  /** `config --quiet`: fails with compose's message when the compose file is invalid. */
  validateCompose(env: Record<string, string>): Promise<void>;
  /** Free bytes on the filesystem holding Docker's images. */
  diskFree(): Promise<{ path: string; freeBytes: number }>;
  /** Bytes and modes of files (null where absent), for a rollback. */
  snapshotFiles(paths: string[]): Promise<Record<string, { content: string; mode: number } | null>>;
  /** Puts snapshotted files back byte for byte; deletes those that did not exist. */
  restoreFiles(files: Record<string, { content: string; mode: number } | null>): Promise<void>;
  /** The id (`sha256:…`) each image reference names on the tenant host, null where the host has no such image. */
  imageIds(imageRefs: string[]): Promise<Record<string, string | null>>;
  /** Points an image reference at an image id again (the previous images of a rollback). */
  tagImage(imageId: string, imageRef: string): Promise<void>;
  /** GET http://<service's container address>:<port><path>; resolves with the status code. */
  httpProbe(service: string, port: number, path: string): Promise<number>;
}

export type TenantErrorCode =
  | 'engine-unreachable'
  | 'image-not-found'
  | 'unknown-service'
  | 'compose-failed'
  | 'compose-missing'
  | 'path-rejected'
  | 'cancelled'
  /** The agent of a remote instance did not answer (network, TLS, timeout): retryable. */
  | 'agent-unreachable'
  /** The agent refused the request (bad arguments, too large, outside its limits). */
  | 'agent-refused'
  /** No approved agent for the instance (never approved, or revoked): the control plane will not call it. */
  | 'agent-not-approved';

/** Codes that retrying the same step cannot fix. */
export const PERMANENT_TENANT_ERRORS: readonly TenantErrorCode[] = [
  'image-not-found',
  'unknown-service',
  'compose-missing',
  'path-rejected',
  'agent-refused',
  'agent-not-approved',
];

export class TenantError extends Error {
  constructor(
    readonly code: TenantErrorCode,
    message: string,
    /** The last lines of the tenant-side output, for the operator. */
    readonly output?: string,
  ) {
    super(message);
    this.name = 'TenantError';
  }
}
