/**
 * Activity proxies, one per kind of step, each with the policy that fits it.
 * Workflows import activities as types only; this is where they get stubs.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { CONTAINER_RECREATE, DATABASE_WRITE, IMAGE_PULL, TENANT_QUERY, VERIFY } from './policies.js';

export const db = proxyActivities<Activities>(DATABASE_WRITE);
export const tenant = proxyActivities<Activities>(TENANT_QUERY);
export const { pullImages } = proxyActivities<Activities>(IMAGE_PULL);
export const { recreateServices, startAllServices } = proxyActivities<Activities>(CONTAINER_RECREATE);
export const { verifyServices } = proxyActivities<Activities>(VERIFY);
