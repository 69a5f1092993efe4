/**
 * An in-memory tenant behind the ExecutionDriver interface, for the fast
 * workflow tests: files, running images and health live in maps, and a test
 * can make any operation fail, hang until cancelled, or report unhealthy.
 * Only the workflows' behaviour is under test here; what a real engine does
 * is the real-Docker tests' job.
 */
import { createHash } from 'node:crypto';
import { TenantError, type ExecutionDriver, type OperationOptions, type TenantErrorCode } from '../../core/driver.js';
import type { ContainerState, ContentManifest } from '../../core/types.js';
import { COMPOSE_PATH, nextImagePin, PIN_PATH } from '../../core/image-pin.js';

export const FAKE_SERVICES = ['api', 'admin', 'media-api', 'nginx', 'postgres', 'redis'];

type Op = keyof ExecutionDriver;
type File = { content: string; mode: number };

export class FakeTenant implements ExecutionDriver {
  readonly files = new Map<string, File>();
  /** Tenant content (mkdocs/, configs/, scripts/): path -> content. */
  readonly content = new Map<string, string>();
  /** service -> the image it runs. */
  readonly running = new Map<string, { imageRef: string; imageId: string }>();
  readonly unhealthy = new Set<string>();
  /** Every call, in order, as `op` or `op:detail`. */
  readonly calls: string[] = [];
  private readonly failures = new Map<Op, { times: number; code: TenantErrorCode; message: string }>();
  private readonly hangs = new Set<Op>();
  /** Called as each operation begins (before a failure or hang), e.g. to look at the upgrade row then. */
  onEnter?: (op: Op) => Promise<void>;
  /** Resolves when a hanging operation saw its cancellation signal. */
  cancelled: Promise<void>;
  private markCancelled!: () => void;

  constructor(
    readonly slug: string,
    tag: string,
    readonly services = FAKE_SERVICES,
  ) {
    for (const s of services) this.running.set(s, image(s, tag));
    this.content.set('mkdocs/index.md', `# ${slug}\n`);
    this.cancelled = new Promise((r) => (this.markCancelled = r));
  }

  /** The next `times` calls of `op` fail with a TenantError of `code`. */
  fail(op: Op, times: number, code: TenantErrorCode = 'compose-failed', message = `${op} failed (fake)`) {
    this.failures.set(op, { times, code, message });
  }

  /** `op` runs until its cancellation signal fires. */
  hang(op: Op) {
    this.hangs.add(op);
  }

  tagOf(service: string): string | undefined {
    return this.running.get(service)?.imageRef.split(':').pop();
  }

  private async enter(op: Op, detail?: string, opts?: OperationOptions): Promise<void> {
    this.calls.push(detail ? `${op}:${detail}` : op);
    await this.onEnter?.(op);
    const f = this.failures.get(op);
    if (f && f.times > 0) {
      f.times--;
      throw new TenantError(f.code, f.message);
    }
    if (this.hangs.has(op)) {
      await new Promise<void>((_, reject) => {
        const stop = () => {
          this.markCancelled();
          reject(new TenantError('cancelled', `${op} cancelled`));
        };
        if (opts?.signal?.aborted) stop();
        opts?.signal?.addEventListener('abort', stop);
      });
    }
  }

  async ping() {
    await this.enter('ping');
  }
  async listServices() {
    await this.enter('listServices');
    return [...this.services];
  }
  async contentManifest(): Promise<ContentManifest> {
    await this.enter('contentManifest');
    return Object.fromEntries([...this.content].map(([p, c]) => [p, sha256(c)]));
  }
  async readFiles(paths: string[]) {
    await this.enter('readFiles');
    return Object.fromEntries(paths.map((p) => [p, this.files.get(p)?.content ?? null]));
  }
  async fileChecksums(paths: string[]) {
    await this.enter('fileChecksums');
    return Object.fromEntries(paths.map((p) => [p, this.files.has(p) ? sha256(this.files.get(p)!.content) : null]));
  }
  async imageIds(refs: string[]) {
    await this.enter('imageIds');
    // The host's tags are the ones the running containers were made from.
    const byRef = new Map([...this.running.values()].map((r) => [r.imageRef, r.imageId]));
    return Object.fromEntries(refs.map((r) => [r, byRef.get(r) ?? null]));
  }
  async writeFiles(managed: readonly string[], files: { path: string; content: string }[]) {
    await this.enter('writeFiles');
    const written: string[] = [];
    const unchanged: string[] = [];
    for (const f of files) {
      if (!managed.includes(f.path)) throw new TenantError('path-rejected', `${f.path} is not managed`);
      if (this.files.get(f.path)?.content === f.content) unchanged.push(f.path);
      else {
        this.files.set(f.path, { content: f.content, mode: 0o644 });
        written.push(f.path);
      }
    }
    return { written, unchanged };
  }
  async pull(services: string[], env: Record<string, string>, opts?: OperationOptions) {
    await this.enter('pull', env.IMAGE_TAG, opts);
  }
  async recreate(services: string[], env: Record<string, string>, opts?: OperationOptions) {
    await this.enter('recreate', env.IMAGE_TAG, opts);
    for (const s of services) this.running.set(s, image(s, env.IMAGE_TAG ?? 'latest'));
  }
  async upAll(env: Record<string, string>, _removeOrphans?: boolean | null, opts?: OperationOptions) {
    await this.enter('upAll', env.IMAGE_TAG, opts);
    for (const s of this.services) this.running.set(s, image(s, env.IMAGE_TAG ?? 'latest'));
  }
  async containerStates(services: string[]): Promise<ContainerState[]> {
    await this.enter('containerStates');
    return this.statesOf(services);
  }
  private statesOf(services: string[]): ContainerState[] {
    return services.map((service) => {
      const r = this.running.get(service);
      return {
        service,
        containerId: `c-${service}`,
        imageId: r?.imageId ?? '',
        imageRef: r?.imageRef,
        state: r ? 'running' : 'exited',
        health: this.unhealthy.has(service) ? 'unhealthy' : 'healthy',
      };
    });
  }
  async serviceStates() {
    await this.enter('serviceStates');
    return { services: [...this.services], states: this.statesOf(this.services) };
  }
  async pinRunningImages(services: string[] | null, _env: Record<string, string>, merge: boolean) {
    await this.enter('pinRunningImages');
    const looked = services ?? [...this.services];
    const pin = nextImagePin(this.statesOf(looked), (merge && this.files.get(PIN_PATH)?.content) || null, this.files.get(COMPOSE_PATH)?.content ?? null);
    if (pin) this.files.set(PIN_PATH, { content: pin, mode: 0o644 });
    return looked;
  }
  async validateCompose() {
    await this.enter('validateCompose');
  }
  async diskFree() {
    await this.enter('diskFree');
    return { path: '/var/lib/docker', freeBytes: 100 * 1024 ** 3 };
  }
  async snapshotFiles(paths: string[]) {
    await this.enter('snapshotFiles');
    return Object.fromEntries(paths.map((p) => [p, this.files.get(p) ?? null]));
  }
  async restoreFiles(files: Record<string, File | null>) {
    await this.enter('restoreFiles');
    for (const [p, f] of Object.entries(files)) {
      if (f) this.files.set(p, { ...f });
      else this.files.delete(p);
    }
  }
  async tagImage(imageId: string, imageRef: string) {
    await this.enter('tagImage', imageRef);
    // Re-pointing the tag is what makes the next `up` run the previous image.
    const service = imageRef.split('/').pop()!.split(':')[0]!;
    if (this.running.has(service)) this.running.set(service, { imageRef, imageId });
  }
  async httpProbe() {
    await this.enter('httpProbe');
    return 200;
  }
}

function image(service: string, tag: string) {
  return { imageRef: `registry.test/app/${service}:${tag}`, imageId: `sha256:${sha256(`${service}:${tag}`)}` };
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
