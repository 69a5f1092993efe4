/**
 * The control plane's certificate authority on disk: created on first start
 * (`ca.crt`, and `ca.key` with mode 0600 in a 0700 directory), then loaded.
 * It signs agent certificates at approval, and the control plane's own client
 * certificate (`client.crt`/`client.key`), reissued when it nears expiry.
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
import type { RemoteCredentials } from '../transports/remote.js';

export interface ControlPlaneCa {
  dir: string;
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

  const clientCredentials = await clientIdentity(dir, ca);
  return {
    dir,
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

async function clientIdentity(dir: string, ca: CertificateAuthority): Promise<RemoteCredentials> {
  const certFile = path.join(dir, 'client.crt');
  const keyFile = path.join(dir, 'client.key');
  if ((await exists(certFile)) && (await exists(keyFile))) {
    const cert = await readFile(certFile, 'utf8');
    const x = new X509Certificate(cert);
    const caCert = new X509Certificate(ca.certPem);
    if (x.checkIssued(caCert) && x.verify(caCert.publicKey) && Date.parse(x.validTo) - Date.now() > RENEW_BEFORE_MS) {
      return { ca: ca.certPem, cert, key: await readFile(keyFile, 'utf8') };
    }
  }
  const issued = await issueKeyAndCertificate(ca, {
    commonName: CONTROL_PLANE_CN,
    usage: 'client',
    notAfter: new Date(Date.now() + CLIENT_CERT_DAYS * 86_400_000),
  });
  await writeAtomic(keyFile, issued.keyPem, 0o600);
  await writeAtomic(certFile, issued.certPem, 0o644);
  return { ca: ca.certPem, cert: issued.certPem, key: issued.keyPem };
}
