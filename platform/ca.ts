/**
 * The control plane's certificate authority. It signs agent certificates at
 * approval, and the control plane's own client certificate, reissued when it
 * nears expiry. Every API and worker process must use the same one, so it
 * lives in one of two places:
 *
 * - the database (the default, openSharedCa): certificates in the clear,
 *   private keys sealed with the keyring. Created once, race-free, when the
 *   first process starts; a CA an earlier version kept in `<dataDir>/ca` is
 *   imported instead, so agents enrolled with it keep working.
 * - a directory (DRYDOCK_CA_DIR, openCa), which every process must then
 *   share: created on first start (`ca.crt`, and `ca.key` with mode 0600 in
 *   a 0700 directory), then loaded, with `client.crt`/`client.key` beside.
 */
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  CONTROL_PLANE_CN,
  createCertificateAuthority,
  fingerprint256,
  issueCertificate,
  issueKeyAndCertificate,
  parseCsr,
  type CertificateAuthority,
  type IssuedCertificate,
} from '../core/pki.js';
import { SLUG_RE, SLUG_RULE } from '../core/validation.js';
import type { Keyring } from '../core/keyring.js';
import { createKeyMaterialRepo } from '../prisma/key-material.js';
import type { PrismaClient } from '../prisma/generated/client.js';
import type { RemoteCredentials } from '../transports/remote.js';

export interface ControlPlaneCa {
  /** Where it is kept: its directory, or "the database". */
  where: string;
  certPem: string;
  fingerprint256: string;
  /** Signs an agent's CSR after checking its signature and that it names the slug. */
  signAgentCsr(csrPem: string, slug: string, validityDays?: number): Promise<IssuedCertificate>;
  /** What the remote driver presents to agents. */
  clientCredentials: RemoteCredentials;
}

export const AGENT_CERT_DAYS = 365;
const CLIENT_CERT_DAYS = 365;
const RENEW_BEFORE_MS = 30 * 86_400_000;

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function writeAtomic(file: string, data: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

export async function openCa(dir: string, log: (m: string) => void = () => {}): Promise<ControlPlaneCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  let ca: CertificateAuthority;
  if (await exists(keyFile)) {
    const mode = (await stat(keyFile)).mode & 0o777;
    if (mode & 0o077) {
      log(`warning: ${keyFile} was readable by others (mode ${mode.toString(8)}); set to 0600`);
      await chmod(keyFile, 0o600);
    }
    ca = { certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
  } else {
    ca = await createCertificateAuthority();
    await writeAtomic(certFile, ca.certPem, 0o644);
    await writeAtomic(keyFile, ca.keyPem, 0o600); // last: its presence means the CA is complete
    log(`created the agent CA in ${dir} (fingerprint ${fingerprint256(ca.certPem)})`);
  }

  return controlPlaneCa(ca, await clientIdentity(dir, ca), dir);
}

function controlPlaneCa(ca: CertificateAuthority, clientCredentials: RemoteCredentials, where: string): ControlPlaneCa {
  return {
    where,
    certPem: ca.certPem,
    fingerprint256: fingerprint256(ca.certPem),
    clientCredentials,
    async signAgentCsr(csrPem, slug, validityDays = AGENT_CERT_DAYS) {
      // An agent certificate named like the control plane's would pass for it with every other agent.
      if (!SLUG_RE.test(slug)) throw new Error(`${JSON.stringify(slug)} is not a tenant slug: it must be ${SLUG_RULE}`);
      const csr = await parseCsr(csrPem);
      if (csr.commonName !== slug) throw new Error(`the CSR names ${csr.commonName ?? 'nobody'}, not ${slug}`);
      return issueCertificate(ca, csr.publicKey, {
        commonName: slug,
        dnsNames: [slug],
        usage: 'server',
        notAfter: new Date(Date.now() + validityDays * 86_400_000),
      });
    },
  };
}

/** A client certificate issued by `ca` and not near its expiry. */
function usableClientCert(certPem: string, ca: CertificateAuthority): boolean {
  const x = new X509Certificate(certPem);
  const caCert = new X509Certificate(ca.certPem);
  return x.checkIssued(caCert) && x.verify(caCert.publicKey) && Date.parse(x.validTo) - Date.now() > RENEW_BEFORE_MS;
}

const issueClientIdentity = (ca: CertificateAuthority) =>
  issueKeyAndCertificate(ca, { commonName: CONTROL_PLANE_CN, usage: 'client', notAfter: new Date(Date.now() + CLIENT_CERT_DAYS * 86_400_000) });

async function clientIdentity(dir: string, ca: CertificateAuthority): Promise<RemoteCredentials> {
  const certFile = path.join(dir, 'client.crt');
  const keyFile = path.join(dir, 'client.key');
  if ((await exists(certFile)) && (await exists(keyFile))) {
    const cert = await readFile(certFile, 'utf8');
    if (usableClientCert(cert, ca)) return { ca: ca.certPem, cert, key: await readFile(keyFile, 'utf8') };
  }
  const issued = await issueClientIdentity(ca);
  await writeAtomic(keyFile, issued.keyPem, 0o600);
  await writeAtomic(certFile, issued.certPem, 0o644);
  return { ca: ca.certPem, cert: issued.certPem, key: issued.keyPem };
}

/** Names of the rows in KeyMaterial. */
export const CA_KEY_MATERIAL = 'agent-ca';
export const CLIENT_KEY_MATERIAL = 'control-plane-client';

export interface SharedCaOptions {
  prisma: PrismaClient;
  keyring: Keyring;
  /** A CA directory from before the CA moved into the database: imported when the database holds none yet. */
  importFrom?: string;
  log?: (m: string) => void;
}

/** The CA in the database, shared by every process on it (see the top of this file). */
export async function openSharedCa(o: SharedCaOptions): Promise<ControlPlaneCa> {
  const log = o.log ?? (() => {});
  const repo = createKeyMaterialRepo(o.prisma);
  // Bound to the row's name: a sealed key copied into another row does not open.
  const aad = (name: string) => `key-material:${name}`;
  const stored = (name: string, pair: { certPem: string; keyPem: string }) => ({ name, certPem: pair.certPem, keySealed: o.keyring.sealString(pair.keyPem, aad(name)) });
  async function load(name: string): Promise<CertificateAuthority | undefined> {
    const row = await repo.get(name);
    if (!row) return undefined;
    try {
      return { certPem: row.certPem, keyPem: o.keyring.openString(row.keySealed, aad(name)) };
    } catch (err) {
      throw new Error(
        `the ${name} key in the database does not open with this process's secret keys (${(err as Error).message}): ` +
          'every API and worker process must be given the same DRYDOCK_SECRET_KEY (or secret.keys file)',
      );
    }
  }

  let ca = await load(CA_KEY_MATERIAL);
  if (!ca) {
    const onDisk = o.importFrom ? await readCaDir(o.importFrom) : undefined;
    const candidate = onDisk ?? (await createCertificateAuthority());
    // Of processes starting at once, one stores its CA and every one of them uses that one.
    const won = await repo.insertIfAbsent(stored(CA_KEY_MATERIAL, candidate));
    ca = (await load(CA_KEY_MATERIAL))!;
    if (won && onDisk) log(`imported the agent CA from ${o.importFrom} into the database (fingerprint ${fingerprint256(ca.certPem)}); agents enrolled with it keep working`);
    else if (won) log(`created the agent CA in the database (fingerprint ${fingerprint256(ca.certPem)})`);
  }

  let client = await load(CLIENT_KEY_MATERIAL);
  if (!client || !usableClientCert(client.certPem, ca)) {
    const issued = await issueClientIdentity(ca);
    const pair = { certPem: issued.certPem, keyPem: issued.keyPem };
    const mine = client ? await repo.replace(client.certPem, stored(CLIENT_KEY_MATERIAL, pair)) : await repo.insertIfAbsent(stored(CLIENT_KEY_MATERIAL, pair));
    // Another process renewed it first: use theirs, so every process presents the same certificate.
    client = mine ? pair : (await load(CLIENT_KEY_MATERIAL))!;
  }
  return controlPlaneCa(ca, { ca: ca.certPem, cert: client.certPem, key: client.keyPem }, 'the database');
}

/** The CA an earlier version kept on disk, if there is a complete one. */
async function readCaDir(dir: string): Promise<CertificateAuthority | undefined> {
  const keyFile = path.join(dir, 'ca.key');
  if (!(await exists(keyFile))) return undefined;
  return { certPem: await readFile(path.join(dir, 'ca.crt'), 'utf8'), keyPem: await readFile(keyFile, 'utf8') };
}
