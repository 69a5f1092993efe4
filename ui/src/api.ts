/**
 * The UI's calls to the API, typed from the zod schemas the API validates
 * with (api/schemas.ts): request bodies are checked here first, so a bad field
 * is reported next to its input before any request, and every answer is
 * parsed with its schema, so a drift between API and UI shows as a message.
 */
import { z } from 'zod';
import { agentDecisionBody, driftCheckBody, createEndpointBody, patchEndpointBody, createOperatorBody, patchOperatorBody, createInviteForm, createInstanceBody, createTokenBody, loginBody, patchInstanceBody, releasePreviewBody, rolloutBody, startFullUpgradeBody, startImageUpgradeBody, startReleaseUpgradeBody, valuesBody } from '../../api/schemas.js';
import { driftReportView, startedDriftCheck, notificationDeliveryView, notificationEndpointView, agentInviteView, agentRegistrationView, apiTokenView, auditPage, createdOperator, operatorRecordView, createdAgentInvite, createdApiToken, errorResponse, instanceValuesView, instanceView, publishedRelease, releaseDetail, releaseDiff, releaseSummary, meResponse, operatorActionResponse, releasePreview, rolloutActionResponse, rolloutListItem, rolloutPreview, rolloutView, startedRollout, startedUpgrade, upgradeView, type AgentReplacementView } from '../../api/responses.js';

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: FieldError[] = [],
    readonly extra: { retryAfterSeconds?: number; setupNeeded?: boolean; replaces?: AgentReplacementView } = {},
  ) {
    super(message);
  }
  /** The message for one field, if the API (or the local check) named it. */
  field(name: string): string | undefined {
    return this.fields.find((f) => f.field === name)?.message;
  }
}

/** Called when a request finds the session gone (401): the app shows sign-in again. */
let onSignedOut: (() => void) | undefined;
export function setSignedOutHandler(fn: () => void) {
  onSignedOut = fn;
}

/**
 * The values API names JSON paths ("/queue/name: must match pattern … (pattern)");
 * each becomes a field keyed by its path, so the form shows it beside that input.
 */
export function valuesFieldErrors(errors: unknown): FieldError[] {
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((e): e is string => typeof e === 'string')
    .map((e) => {
      const at = /^(\/[^:]*|\/): (.*)$/.exec(e);
      if (!at) return { field: '(values)', message: e };
      const [, path, message] = at as unknown as [string, string, string];
      const missing = /^missing required key "([^"]+)"/.exec(message);
      if (missing) return { field: `${path === '/' ? '' : path}/${missing[1]}`, message: 'is required' };
      return { field: path, message };
    });
}

function validate<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const fields = r.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
  throw new ApiError(400, fields.map((f) => `${f.field}: ${f.message}`).join('; '), fields);
}

async function call<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.output<S>> {
  let res: Response;
  // A file (a bundle's .tar.gz) goes as it is; anything else as JSON.
  const raw = body instanceof Blob;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: {
        accept: 'application/json',
        // The API refuses cookie-authenticated changes without it (no cross-site form can send it).
        'x-drydock-request': 'ui',
        ...(body === undefined ? {} : { 'content-type': raw ? 'application/gzip' : 'application/json' }),
      },
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `the control plane did not answer (${(err as Error).message}); is it running?`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = errorResponse.safeParse(json);
    const message = e.success ? e.data.error : `${res.status} ${res.statusText || 'error'} from ${method} ${path}`;
    if (res.status === 401 && !path.startsWith('/api/auth/')) onSignedOut?.();
    const fields = [...(e.success ? (e.data.fields ?? []) : []), ...valuesFieldErrors((json as { errors?: unknown } | undefined)?.errors)];
    throw new ApiError(res.status, message, fields, {
      retryAfterSeconds: e.success ? e.data.retryAfterSeconds : undefined,
      setupNeeded: e.success ? e.data.setupNeeded : undefined,
      replaces: e.success ? e.data.replaces : undefined,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new ApiError(res.status, `unexpected answer from ${method} ${path}: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}

const nothing = z.unknown();
const enc = encodeURIComponent;

export type Input<S extends z.ZodType> = z.input<S>;

export const api = {
  me: () => call('GET', '/api/auth/me', meResponse),
  login: (body: Input<typeof loginBody>) => call('POST', '/api/auth/login', meResponse, validate(loginBody, body)),
  logout: () => call('POST', '/api/auth/logout', nothing),

  instances: () => call('GET', '/api/instances', z.array(instanceView)),
  instance: (id: string) => call('GET', `/api/instances/${enc(id)}`, instanceView),
  driftReport: (id: string) => call('GET', `/api/instances/${enc(id)}/drift`, driftReportView),
  checkDrift: (body: Input<typeof driftCheckBody>) => call('POST', '/api/drift/check', startedDriftCheck, validate(driftCheckBody, body)),
  createInstance: (body: Input<typeof createInstanceBody>) => call('POST', '/api/instances', instanceView, validate(createInstanceBody, body)),
  values: (id: string) => call('GET', `/api/instances/${enc(id)}/values`, instanceValuesView),
  putValues: (id: string, body: Input<typeof valuesBody>) => call('PUT', `/api/instances/${enc(id)}/values`, instanceValuesView, validate(valuesBody, body)),
  patchInstance: (id: string, body: Input<typeof patchInstanceBody>) =>
    call('PATCH', `/api/instances/${enc(id)}`, instanceView, validate(patchInstanceBody, body)),
  latestUpgrades: () => call('GET', '/api/upgrades', z.array(upgradeView)),
  upgrades: (instanceId: string) => call('GET', `/api/instances/${enc(instanceId)}/upgrades`, z.array(upgradeView)),
  upgrade: (id: string) => call('GET', `/api/upgrades/${enc(id)}`, upgradeView),

  upgradeNow: (instanceId: string, body: Input<typeof startFullUpgradeBody>) =>
    call('POST', `/api/instances/${enc(instanceId)}/upgrade`, startedUpgrade, validate(startFullUpgradeBody, body)),
  quickUpgrade: (instanceId: string, body: Input<typeof startImageUpgradeBody>) =>
    call('POST', `/api/instances/${enc(instanceId)}/upgrade-images`, startedUpgrade, validate(startImageUpgradeBody, body)),
  previewRelease: (instanceId: string, body: Input<typeof releasePreviewBody>) =>
    call('POST', `/api/instances/${enc(instanceId)}/upgrade-release/preview`, releasePreview, validate(releasePreviewBody, body)),
  applyRelease: (instanceId: string, body: Input<typeof startReleaseUpgradeBody>) =>
    call('POST', `/api/instances/${enc(instanceId)}/upgrade-release`, startedUpgrade, validate(startReleaseUpgradeBody, body)),
  act: (upgradeId: string, action: 'retry' | 'rollback' | 'abort' | 'cancel') =>
    call('POST', `/api/upgrades/${enc(upgradeId)}/${action}`, operatorActionResponse),

  invites: () => call('GET', '/api/agents/invites', z.array(agentInviteView)),
  createInvite: (body: Input<typeof createInviteForm>) => call('POST', '/api/agents/invites', createdAgentInvite, validate(createInviteForm, body)),
  registrations: () => call('GET', '/api/agents/registrations', z.array(agentRegistrationView)),
  /** Without confirmReplace, approving over an existing instance or agent answers 409 with `replaces` (ApiError.extra). */
  approve: (id: string, confirmReplace = false) =>
    call('POST', `/api/agents/registrations/${enc(id)}/approve`, z.object({ registration: agentRegistrationView }), confirmReplace ? { confirmReplace: true } : {}),
  reject: (id: string, body: Input<typeof agentDecisionBody>) =>
    call('POST', `/api/agents/registrations/${enc(id)}/reject`, agentRegistrationView, validate(agentDecisionBody, body)),
  revoke: (id: string, body: Input<typeof agentDecisionBody>) =>
    call('POST', `/api/agents/registrations/${enc(id)}/revoke`, agentRegistrationView, validate(agentDecisionBody, body)),

  rollouts: () => call('GET', '/api/rollouts', z.array(rolloutListItem)),
  rollout: (id: string) => call('GET', `/api/rollouts/${enc(id)}`, rolloutView),
  previewRollout: (body: Input<typeof rolloutBody>) => call('POST', '/api/rollouts/preview', rolloutPreview, validate(rolloutBody, body)),
  startRollout: (body: Input<typeof rolloutBody>) => call('POST', '/api/rollouts', startedRollout, validate(rolloutBody, body)),
  rolloutAction: (id: string, action: 'pause' | 'resume' | 'approve' | 'abort') =>
    call('POST', `/api/rollouts/${enc(id)}/${action}`, rolloutActionResponse),

  releases: () => call('GET', '/api/releases', z.array(releaseSummary)),
  release: (version: string) => call('GET', `/api/releases/${enc(version)}`, releaseDetail),
  releaseDiff: (from: string, to: string) => call('GET', `/api/releases/${enc(from)}/diff/${enc(to)}`, releaseDiff),
  publishRelease: (bundle: Blob) => call('POST', '/api/releases', publishedRelease, bundle),

  tokens: () => call('GET', '/api/tokens', z.array(apiTokenView)),
  createToken: (body: Input<typeof createTokenBody>) => call('POST', '/api/tokens', createdApiToken, validate(createTokenBody, body)),
  revokeToken: (id: string) => call('POST', `/api/tokens/${enc(id)}/revoke`, apiTokenView),

  operators: () => call('GET', '/api/operators', z.array(operatorRecordView)),
  createOperator: (body: Input<typeof createOperatorBody>) => call('POST', '/api/operators', createdOperator, validate(createOperatorBody, body)),
  patchOperator: (id: string, body: Input<typeof patchOperatorBody>) =>
    call('PATCH', `/api/operators/${enc(id)}`, operatorRecordView, validate(patchOperatorBody, body)),

  notificationEndpoints: () => call('GET', '/api/notifications/endpoints', z.array(notificationEndpointView)),
  createNotificationEndpoint: (body: Input<typeof createEndpointBody>) =>
    call('POST', '/api/notifications/endpoints', notificationEndpointView, validate(createEndpointBody, body)),
  patchNotificationEndpoint: (id: string, body: Input<typeof patchEndpointBody>) =>
    call('PATCH', `/api/notifications/endpoints/${enc(id)}`, notificationEndpointView, validate(patchEndpointBody, body)),
  deleteNotificationEndpoint: (id: string) => call('DELETE', `/api/notifications/endpoints/${enc(id)}`, nothing),
  notificationDeliveries: (id: string) => call('GET', `/api/notifications/endpoints/${enc(id)}/deliveries`, z.array(notificationDeliveryView)),
  testNotificationEndpoint: (id: string) => call('POST', `/api/notifications/endpoints/${enc(id)}/test`, z.object({ eventId: z.string().nullable() })),

  audit: (query: AuditQuery) => call('GET', `/api/audit?${auditSearch(query)}`, auditPage),
  auditExportUrl: (query: AuditQuery, format: 'csv' | 'ndjson') => `/api/audit/export?${auditSearch({ ...query, format })}`,
};

export interface AuditQuery {
  actor?: string;
  action?: string;
  targetKind?: string;
  targetId?: string;
  outcome?: 'accepted' | 'refused';
  from?: string;
  to?: string;
  cursor?: string;
  limit?: number;
  format?: 'csv' | 'ndjson';
}

/** Only the filters that are set; times as ISO. */
function auditSearch(q: AuditQuery): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, k === 'from' || k === 'to' ? new Date(String(v)).toISOString() : String(v));
  return p.toString();
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
