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
  /** Atomic per file and idempotent: identical content is not rewritten. Only `managed` paths. */
  writeFiles(managed: readonly string[], files: { path: string; content: string }[]): Promise<{ written: string[]; unchanged: string[] }>;
  /** No services: pull every service of the compose file. */
  pull(services: string[], env: Record<string, string>, opts?: OperationOptions): Promise<void>;
  recreate(services: string[], env: Record<string, string>, opts?: OperationOptions): Promise<void>;
  /** `up -d` of the whole project: what changed is recreated, what is new is created. */
  upAll(env: Record<string, string>, opts?: OperationOptions): Promise<void>;
  containerStates(services: string[]): Promise<ContainerState[]>;
}

export type TenantErrorCode =
  | 'engine-unreachable'
  | 'image-not-found'
  | 'unknown-service'
  | 'compose-failed'
  | 'compose-missing'
  | 'path-rejected'
  | 'cancelled';

/** Codes that retrying the same step cannot fix. */
export const PERMANENT_TENANT_ERRORS: readonly TenantErrorCode[] = ['image-not-found', 'unknown-service', 'compose-missing', 'path-rejected'];

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
