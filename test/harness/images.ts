// Test images: a busybox rootfs imported with `docker import` and pushed to the
// loopback registry. Every marker yields a distinct image, so pushing the same
// ref with a new marker moves the tag to a new build.
import { execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BuiltImage {
  ref: string;
  /** Local image id, `sha256:…`. */
  id: string;
  /** Registry manifest digest, `sha256:…`. */
  digest: string;
}

const APPLETS = ['sh', 'httpd', 'wget', 'sleep', 'cat', 'echo', 'test', 'true'];
const CMD = 'CMD ["/bin/httpd","-f","-p","8080","-h","/www"]';

export function registryAddress(): string {
  return `127.0.0.1:${process.env.DRYDOCK_TEST_REGISTRY_PORT ?? 5055}`;
}

/** `serves: false` leaves out the page httpd serves: the container runs, but its healthcheck and front door fail. */
export async function buildAndPushImage(ref: string, marker: string, opts: { serves?: boolean } = {}): Promise<BuiltImage> {
  const rootfs = await mkdtemp(join(tmpdir(), 'drydock-rootfs-'));
  try {
    await writeRootfs(rootfs, marker, opts.serves ?? true);
    const id = await importRootfs(rootfs, ref);
    const digest = await push(ref);
    return { ref, id, digest };
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}

async function writeRootfs(dir: string, marker: string, serves: boolean): Promise<void> {
  await mkdir(join(dir, 'bin'));
  await mkdir(join(dir, 'www'));
  await mkdir(join(dir, 'tmp'));
  await copyFile('/bin/busybox', join(dir, 'bin/busybox'));
  for (const applet of APPLETS) await symlink('busybox', join(dir, 'bin', applet));
  if (serves) await writeFile(join(dir, 'www/index.html'), `<h1>${marker}</h1>\n`);
  await writeFile(join(dir, 'VERSION'), `${marker}\n`);
}

/** `tar -c <dir> | docker import -c CMD - <ref>`, without a shell. Resolves to the image id. */
function importRootfs(dir: string, ref: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', dir, '--numeric-owner', '--owner=0', '--group=0', '-c', '.'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const imp = spawn('docker', ['import', '-c', CMD, '-', ref], { stdio: ['pipe', 'pipe', 'pipe'] });
    tar.stdout.pipe(imp.stdin);

    let out = '';
    let err = '';
    tar.stderr.on('data', (d) => (err += d));
    imp.stdout.on('data', (d) => (out += d));
    imp.stderr.on('data', (d) => (err += d));

    let tarCode: number | null = null;
    tar.on('error', reject);
    imp.on('error', reject);
    tar.on('close', (code) => (tarCode = code));
    imp.on('close', (code) => {
      const id = out.trim();
      if (code === 0 && tarCode === 0 && id.startsWith('sha256:')) resolve(id);
      else reject(new Error(`docker import ${ref} failed (tar ${tarCode}, import ${code}): ${err || out}`));
    });
  });
}

/** Pushes `ref` and returns the manifest digest the registry reported. */
async function push(ref: string): Promise<string> {
  const { stdout } = await run('docker', ['push', ref]);
  const fromPush = /digest: (sha256:[0-9a-f]{64})/.exec(stdout)?.[1];
  if (fromPush) return fromPush;

  const repo = splitRef(ref).repo;
  const { stdout: json } = await run('docker', ['image', 'inspect', '--format', '{{json .RepoDigests}}', ref]);
  const repoDigest = (JSON.parse(json) as string[]).find((d) => d.startsWith(`${repo}@`));
  if (!repoDigest) throw new Error(`no registry digest for ${ref} in push output or RepoDigests`);
  return repoDigest.slice(repo.length + 1);
}

/** `host:port/a/b:tag` → `{ repo: 'host:port/a/b', tag: 'tag' }`. */
export function splitRef(ref: string): { repo: string; tag: string } {
  const colon = ref.lastIndexOf(':');
  if (colon <= ref.lastIndexOf('/')) return { repo: ref, tag: 'latest' };
  return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
}
