/**
 * How the agent decides whom to trust before it has anything saved: the CA
 * pin an invite code carries, http: refused unless asked for, and `--help`
 * from the real entry point.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { caFingerprintOfInvite, inviteCode, normalizeFingerprint } from '../core/invite-code.js';
import { REPO_ROOT } from '../platform/temporal-server.js';
import { caPinOf, checkControlPlaneUrl } from './agent.js';
import { OPTION_SPECS } from './cli.js';

const FP = 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89';
const OTHER = FP.replace(/^AB/, '00');

const agent = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'agent/main.ts', ...args], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

describe('invite codes that carry the CA fingerprint', () => {
  it('round-trips the fingerprint, and a code from before has none', () => {
    const code = inviteCode('s3cr3t-part_of-the-code-x', FP);
    expect(code).toMatch(/^s3cr3t-part_of-the-code-x\.[A-Za-z0-9_-]{43}$/);
    expect(caFingerprintOfInvite(code)).toBe(FP);
    expect(caFingerprintOfInvite('s3cr3t-part_of-the-code-x')).toBeUndefined();
  });

  it('says a damaged code is damaged rather than pinning something else', () => {
    const code = inviteCode('secret', FP);
    expect(() => caFingerprintOfInvite(code.slice(0, -3))).toThrow(/damaged/);
  });

  it('pins from the code, --ca-fingerprint or the saved registration, and refuses when they disagree', () => {
    const code = inviteCode('secret', FP);
    expect(caPinOf({ inviteCode: code })).toBe(FP);
    expect(caPinOf({ caFingerprint: FP.toLowerCase().replace(/:/g, ''), inviteCode: code })).toBe(FP);
    expect(caPinOf({ saved: FP })).toBe(FP);
    expect(caPinOf({ inviteCode: 'old-style-code' })).toBeUndefined();
    expect(() => caPinOf({ caFingerprint: OTHER, inviteCode: code })).toThrow(/differs/);
    expect(normalizeFingerprint(`sha256:${FP.replace(/:/g, '').toLowerCase()}`)).toBe(FP);
  });
});

describe('the control-plane URL', () => {
  it('refuses http: unless started with the insecure-development flag, and anything but http(s)', () => {
    expect(() => checkControlPlaneUrl('https://ccp.example')).not.toThrow();
    expect(() => checkControlPlaneUrl('http://ccp.example')).toThrow(/plain http.*--insecure-http/);
    expect(() => checkControlPlaneUrl('http://ccp.example', true)).not.toThrow();
    expect(() => checkControlPlaneUrl('ftp://ccp.example', true)).toThrow(/https:\/\//);
  });

  it('exits 1 at start on an http: URL, saying what to use instead', async () => {
    const r = await agent(['--ccp-url', 'http://127.0.0.1:1', '--slug', 'acme', '--dir', '/tmp', '--invite-code', inviteCode('x', FP), '--state-dir', '/nonexistent/never']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/plain http: anyone on the path could read the invite code/);
    expect(r.stderr).toMatch(/DRYDOCK_TLS_CERT/);
  });
});

describe('agent --help', () => {
  it('lists every option with its environment variable, and what --insecure-http risks, exiting 0', async () => {
    const r = await agent(['--help']);
    expect(r.code).toBe(0);
    for (const [opt, spec] of Object.entries(OPTION_SPECS)) {
      expect(r.stdout, opt).toContain(`--${opt}`);
      if (spec.env) expect(r.stdout, opt).toContain(`(${spec.env})`);
    }
    expect(r.stdout).toMatch(/--insecure-http\s+DEVELOPMENT ONLY: .*reads the invite code/);
    expect(Object.keys(OPTION_SPECS)).toEqual(expect.arrayContaining(['ccp-url', 'invite-code', 'slug', 'dir', 'ca-fingerprint', 'insecure-http', 'tenants', 'managed']));
  });

  it('still names an unknown argument, pointing at --help', async () => {
    const r = await agent(['--frobnicate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown argument --frobnicate \(--help lists the options\)/);
  });
});
