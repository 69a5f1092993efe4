/**
 * The secrets that stand for a signed-in operator: API tokens
 * (`ddk_…`, shown once) and session cookies. Both are random, and the
 * database keeps only their sha256.
 */
import { createHash, randomBytes } from 'node:crypto';

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
export const TOKEN_PREFIX = 'ddk_';
export const newApiToken = () => `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
export const newSessionSecret = () => randomBytes(32).toString('base64url');
