/**
 * A deterministic tenant for the preview benchmark: 50 managed files, about
 * 2 MiB of rendered content, as (current, next) pairs. Everything comes from a
 * seeded PRNG, so the same seed always yields the same bytes (checked by
 * bench/preview.test.ts through pairsDigest).
 *
 * Mix: 10 unchanged, 30 modified with scattered small edits (1-5% of lines),
 * 5 heavily rewritten (about 60% of lines touched, some sections moved), and
 * 5 created (no current file). One of the modified files is a compose file
 * with ${VAR} references, for envCoverage.
 */
import { createHash } from 'node:crypto';

export type PairKind = 'unchanged' | 'modified' | 'heavy' | 'created';

export interface FilePair {
  path: string;
  kind: PairKind;
  /** Undefined: the file does not exist yet. */
  current?: string;
  next: string;
}

export interface GeneratedTenant {
  seed: number;
  pairs: FilePair[];
  /** Path of the compose file among the pairs. */
  composePath: string;
  /** The tenant's own `.env` (not managed, not diffed): input to envCoverage. */
  tenantEnv: string;
}

export const DEFAULT_SEED = 0x5eed_d0c;
export const FILE_COUNT = 50;
/** Total UTF-8 bytes of the rendered (next) side. */
export const TARGET_TOTAL_BYTES = 2 * 1024 * 1024;
/** The largest heavily rewritten file: the single-file worst case. */
export const LARGEST_HEAVY_BYTES = 160 * 1024;
const MIX: Record<PairKind, number> = { unchanged: 10, modified: 30, heavy: 5, created: 5 };

/** mulberry32: small, fast, and good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;

const WORDS = [
  'orders', 'billing', 'catalog', 'search', 'auth', 'media', 'reports', 'mailer', 'queue', 'cache', 'gateway', 'admin',
  'ledger', 'export', 'import', 'webhooks', 'metrics', 'audit', 'sessions', 'assets', 'thumbnails', 'invoices', 'tax',
  'shipping', 'inventory', 'pricing', 'promo', 'cart', 'checkout', 'profile', 'notify', 'scheduler', 'archive', 'sync',
] as const;
const TEAMS = ['payments', 'platform', 'growth', 'core', 'data', 'ops'] as const;
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const UNITS = ['s', 'm', 'ms'] as const;

const name = (rng: Rng) => `${pick(rng, WORDS)}-${pick(rng, WORDS)}`;
const envKey = (rng: Rng) => `${pick(rng, WORDS)}_${pick(rng, WORDS)}`.toUpperCase();
const version = (rng: Rng) => `${int(rng, 0, 9)}.${int(rng, 0, 30)}.${int(rng, 0, 99)}`;
const ip = (rng: Rng) => `10.${int(rng, 0, 255)}.${int(rng, 0, 255)}.${int(rng, 1, 254)}`;

/** A compose service: many lines repeat across services, as in real files. */
function composeBlock(rng: Rng): string[] {
  const svc = name(rng);
  const out = [
    `  ${svc}:`,
    `    image: registry.example.com/acme/${svc}:\${IMAGE_TAG:-${version(rng)}}`,
    '    init: true',
    '    restart: unless-stopped',
    '    environment:',
  ];
  for (let i = int(rng, 2, 7); i > 0; i--) {
    const k = envKey(rng);
    const r = rng();
    out.push(r < 0.4 ? `      ${k}: \${${k}:-${pick(rng, WORDS)}}` : r < 0.7 ? `      ${k}: \${${k}}` : `      ${k}: "${pick(rng, WORDS)}-${int(rng, 1, 999)}"`);
  }
  out.push('    volumes:', `      - ./data/${svc}:/var/lib/${svc}`, '      - ./drydock:/drydock:ro');
  if (rng() < 0.5) out.push('    ports:', `      - "${int(rng, 8000, 9999)}:${pick(rng, [80, 8080, 3000, 5000])}"`);
  out.push(
    '    healthcheck:',
    `      test: ["CMD", "sh", "/drydock/healthcheck.sh", "http://127.0.0.1:${pick(rng, [8080, 3000, 5000])}/healthz"]`,
    `      interval: ${int(rng, 5, 30)}s`,
    `      timeout: ${int(rng, 1, 5)}s`,
    `      retries: ${int(rng, 3, 10)}`,
    '    labels:',
    `      com.example.team: "${pick(rng, TEAMS)}"`,
    `      com.example.tier: "${pick(rng, ['frontend', 'backend', 'worker'])}"`,
    '',
  );
  return out;
}

/** A YAML application config section. */
function yamlBlock(rng: Rng): string[] {
  const sec = pick(rng, WORDS);
  const out = [`${sec}:`, `  enabled: ${rng() < 0.8}`, `  log_level: ${pick(rng, LEVELS)}`];
  for (let i = int(rng, 2, 6); i > 0; i--) {
    const r = rng();
    const key = `${pick(rng, WORDS)}_${pick(rng, ['timeout', 'limit', 'url', 'size', 'ttl', 'workers', 'path'])}`;
    if (r < 0.3) out.push(`  ${key}: ${int(rng, 1, 5000)}`);
    else if (r < 0.5) out.push(`  ${key}: ${int(rng, 1, 120)}${pick(rng, UNITS)}`);
    else if (r < 0.7) out.push(`  ${key}: "https://${pick(rng, WORDS)}.internal.example.com/${pick(rng, WORDS)}"`);
    else if (r < 0.85) out.push(`  ${key}:`, `    - ${pick(rng, WORDS)}`, `    - ${pick(rng, WORDS)}`);
    else out.push(`  # ${pick(rng, WORDS)} ${pick(rng, WORDS)} is tuned for ${pick(rng, TEAMS)}`);
  }
  out.push('');
  return out;
}

/** An nginx server block with a few locations. */
function nginxBlock(rng: Rng): string[] {
  const host = `${pick(rng, WORDS)}-${int(rng, 1, 99)}.example.com`;
  const out = [
    'server {',
    '    listen 443 ssl http2;',
    `    server_name ${host};`,
    `    ssl_certificate /etc/ssl/certs/${host}.pem;`,
    `    ssl_certificate_key /etc/ssl/private/${host}.key;`,
    `    client_max_body_size ${int(rng, 1, 100)}m;`,
  ];
  for (let i = int(rng, 1, 4); i > 0; i--) {
    const up = pick(rng, WORDS);
    out.push(
      '',
      `    location /${pick(rng, ['api', 'v1', 'v2', 'static', 'admin'])}/${up}/ {`,
      `        proxy_pass http://upstream_${up};`,
      '        proxy_set_header Host $host;',
      '        proxy_set_header X-Real-IP $remote_addr;',
      '        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      `        proxy_read_timeout ${int(rng, 5, 300)}s;`,
    );
    if (rng() < 0.3) out.push(`        allow ${ip(rng)};`, '        deny all;');
    out.push('    }');
  }
  out.push('}', '');
  return out;
}

/** An INI section. */
function iniBlock(rng: Rng): string[] {
  const out = [`[${pick(rng, WORDS)}.${pick(rng, WORDS)}]`];
  for (let i = int(rng, 3, 8); i > 0; i--) {
    const r = rng();
    const key = `${pick(rng, WORDS)}.${pick(rng, ['host', 'port', 'pool_size', 'retries', 'enabled', 'dir'])}`;
    if (r < 0.25) out.push(`${key} = ${ip(rng)}`);
    else if (r < 0.55) out.push(`${key} = ${int(rng, 1, 65535)}`);
    else if (r < 0.7) out.push(`${key} = ${rng() < 0.5 ? 'true' : 'false'}`);
    else if (r < 0.9) out.push(`${key} = /srv/${pick(rng, WORDS)}/${pick(rng, WORDS)}`);
    else out.push(`; ${pick(rng, WORDS)} settings for ${pick(rng, TEAMS)}`);
  }
  out.push('');
  return out;
}

type Flavor = 'compose' | 'yaml' | 'nginx' | 'ini';
const BLOCKS: Record<Flavor, (rng: Rng) => string[]> = { compose: composeBlock, yaml: yamlBlock, nginx: nginxBlock, ini: iniBlock };

/** Whole lines (each ending in "\n") of about `bytes` bytes. */
function generateLines(rng: Rng, flavor: Flavor, bytes: number): string[] {
  const lines: string[] = [];
  if (flavor === 'compose') lines.push('# Managed by drydock', "version: '2.4'", '', 'services:');
  let size = lines.reduce((n, l) => n + l.length + 1, 0);
  while (size < bytes) {
    for (const l of BLOCKS[flavor](rng)) {
      lines.push(l);
      size += l.length + 1; // generated text is ASCII
    }
  }
  return lines;
}

const join = (lines: string[]) => lines.map((l) => `${l}\n`).join('');

/** The line changed in a way an upgrade would: a number bumped, a word swapped, a comment added. */
function mutate(rng: Rng, line: string): string {
  for (let attempt = 0; attempt < 4; attempt++) {
    const r = rng();
    let out: string;
    if (r < 0.5 && /\d+/.test(line)) out = line.replace(/\d+(?!.*\d)/, String(int(rng, 0, 9999)));
    else if (r < 0.8) {
      const w = WORDS.find((x) => line.includes(x));
      out = w ? line.replace(w, pick(rng, WORDS)) : `${line} # ${pick(rng, WORDS)}`;
    } else out = line === '' ? `# ${pick(rng, WORDS)}` : `${line} # ${pick(rng, TEAMS)}`;
    if (out !== line) return out;
  }
  return `${line} # changed`;
}

function otherLine(rng: Rng, flavor: Flavor): string {
  const block = BLOCKS[flavor](rng);
  return block[int(rng, 0, block.length - 2)]!;
}

/** Scattered small edits to a fraction (1-5%) of the lines: mostly changes, some insertions and deletions. */
function smallEdits(rng: Rng, flavor: Flavor, lines: string[]): string[] {
  const fraction = 0.01 + rng() * 0.04;
  const edits = Math.max(1, Math.round(lines.length * fraction));
  const at = new Set<number>();
  while (at.size < Math.min(edits, lines.length)) at.add(int(rng, 0, lines.length - 1));
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (!at.has(i)) return void out.push(line);
    const r = rng();
    if (r < 0.7) out.push(mutate(rng, line));
    else if (r < 0.85) out.push(line, otherLine(rng, flavor));
    // else: deleted
  });
  return out;
}

/** A heavy rewrite: most lines touched, some sections moved. */
function heavyRewrite(rng: Rng, flavor: Flavor, lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const r = rng();
    if (r < 0.35) out.push(line);
    else if (r < 0.75) out.push(mutate(rng, line));
    else if (r < 0.85) continue;
    else out.push(otherLine(rng, flavor), line);
  }
  // Move a few sections of ~40 lines elsewhere.
  for (let moves = int(rng, 2, 5); moves > 0 && out.length > 100; moves--) {
    const from = int(rng, 0, out.length - 41);
    const chunk = out.splice(from, 40);
    out.splice(int(rng, 0, out.length), 0, ...chunk);
  }
  return out;
}

const FLAVOR_PATHS: Record<Exclude<Flavor, 'compose'>, (i: number, rng: Rng) => string> = {
  yaml: (i, rng) => `configs/${pick(rng, WORDS)}-${i}/app.yml`,
  nginx: (i) => `nginx/conf.d/site-${String(i).padStart(2, '0')}.conf`,
  ini: (i, rng) => `configs/${pick(rng, WORDS)}-${i}/service.ini`,
};

/** The benchmark's tenant. Same seed, same bytes. */
export function generateTenant(seed: number = DEFAULT_SEED): GeneratedTenant {
  const rng = prng(seed);
  // Kinds in a shuffled order, so sizes and kinds are not correlated by position.
  const kinds = (Object.entries(MIX) as [PairKind, number][]).flatMap(([k, n]) => Array<PairKind>(n).fill(k));
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = int(rng, 0, i);
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  if (kinds.length !== FILE_COUNT) throw new Error('file mix does not add up');

  // Sizes: log-uniform over 1..20 units, except the one largest heavy file, scaled to the target total.
  const largestHeavy = kinds.indexOf('heavy');
  const composeAt = kinds.indexOf('modified');
  const weights = kinds.map(() => Math.exp(rng() * Math.log(20)));
  const rest = TARGET_TOTAL_BYTES - LARGEST_HEAVY_BYTES;
  const otherWeight = weights.reduce((s, w, i) => (i === largestHeavy ? s : s + w), 0);
  const sizes = weights.map((w, i) => (i === largestHeavy ? LARGEST_HEAVY_BYTES : Math.round((w / otherWeight) * rest)));

  const flavors: Exclude<Flavor, 'compose'>[] = ['yaml', 'nginx', 'ini'];
  const pairs: FilePair[] = kinds.map((kind, i) => {
    const flavor: Flavor = i === composeAt ? 'compose' : pick(rng, flavors);
    const path = flavor === 'compose' ? 'docker-compose.yml' : FLAVOR_PATHS[flavor](i, rng);
    const base = generateLines(rng, flavor, sizes[i]!);
    switch (kind) {
      case 'unchanged': {
        const text = join(base);
        return { path, kind, current: text, next: text };
      }
      case 'modified':
        return { path, kind, current: join(base), next: join(smallEdits(rng, flavor, base)) };
      case 'heavy':
        return { path, kind, current: join(base), next: join(heavyRewrite(rng, flavor, base)) };
      case 'created':
        return { path, kind, next: join(base) };
    }
  });

  // The tenant's .env: some of the compose file's variables, a few it does not use.
  const compose = pairs[composeAt]!.next;
  const names = [...new Set([...compose.matchAll(/\$\{([A-Z_]+)/g)].map((m) => m[1]!))];
  const envLines = ['# tenant settings', 'COMPOSE_PROJECT_NAME=acme'];
  for (const n of names) if (rng() < 0.7) envLines.push(`${n}=${pick(rng, WORDS)}-${int(rng, 1, 999)}`);
  for (let i = 0; i < 10; i++) envLines.push(`UNUSED_${envKey(rng)}=${int(rng, 1, 99)}`);
  return { seed, pairs, composePath: pairs[composeAt]!.path, tenantEnv: join(envLines) };
}

export const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** sha256 over every pair, length-prefixed: what "same seed, same data" is checked with. */
export function pairsDigest(t: GeneratedTenant): string {
  const h = createHash('sha256');
  const field = (s: string | undefined) => {
    if (s === undefined) return void h.update('-');
    h.update(`${utf8Bytes(s)}:`);
    h.update(s);
  };
  for (const p of t.pairs) {
    field(p.path);
    field(p.kind);
    field(p.current);
    field(p.next);
  }
  field(t.tenantEnv);
  return h.digest('hex');
}
