/**
 * Per-instance values and secrets: checked against the values schema of the
 * instance's release (ajv; errors name the JSON path and the rule), secrets
 * sealed with the key store (AES-256-GCM, AAD bound to the instance and the
 * name) and never answered: a view says which are set.
 */
import { resolveRelease, type PlanInstance, type ReleasePlanner } from '../core/release-plan.js';
import { checkValues, type Bundle } from '../core/bundle.js';
import { badRequest } from '../core/errors.js';
import type { Keyring } from '../core/keyring.js';
import type { InstanceRecord, InstanceRepo } from '../prisma/repositories.js';
import { secretAad } from '../worker/planner.js';

export interface ValuesInput {
  values?: Record<string, unknown>;
  /** null unsets a secret. */
  secrets?: Record<string, string | null>;
}

export interface ValuesView {
  release: string | null;
  /** The release's values.schema.json (null for a template set without one). */
  schema: Record<string, unknown> | null;
  /** As stored (without defaults). */
  values: Record<string, unknown>;
  /** With the schema's defaults filled in: what a render uses. */
  effectiveValues: Record<string, unknown>;
  /** Every secret of the schema: set or unset. Values are never answered. */
  secrets: Record<string, 'set' | 'unset'>;
}

export function createValuesService(deps: { instances: InstanceRepo; planner: ReleasePlanner; keyring: Keyring }) {
  async function bundleOf(instance: PlanInstance, version?: string | null): Promise<Bundle> {
    const resolved = await resolveRelease(deps.planner, instance, version);
    if (resolved.kind !== 'bundle') throw badRequest(`the release of ${instance.slug} is a template set without values.schema.json: it takes no values`);
    return resolved.bundle;
  }

  /**
   * Checks values and the secrets given against the bundle. Secrets not
   * given keep their stored state; required secrets are not enforced here
   * (a tenant created before drydock stored secrets has them in its `.env`),
   * but at render time.
   */
  function check(bundle: Bundle, instance: { slug: string; isRegistered: boolean }, input: ValuesInput, storedValues: Record<string, unknown>) {
    const values = input.values ?? storedValues;
    const given = Object.fromEntries(Object.entries(input.secrets ?? {}).filter(([, v]) => v !== null)) as Record<string, string>;
    if (instance.isRegistered && Object.keys(input.secrets ?? {}).length > 0) {
      throw badRequest(`${instance.slug} is a registered tenant: its secrets stay in its own .env, drydock stores none`);
    }
    const leaked = Object.keys(values).filter((k) => bundle.secretKeys.includes(k));
    if (leaked.length > 0) throw badRequest(`values: ${leaked.map((k) => `/${k}`).join(', ')} is a secret; send it under "secrets"`, { errors: leaked.map((k) => `/${k}: secret (x-drydock-secret)`) });
    const r = checkValues(bundle, values, given, false);
    if (r.errors.length > 0) {
      throw badRequest(`values do not match the values schema of release ${bundle.release.version}: ${r.errors.join('; ')}`, { errors: r.errors });
    }
    return { values, given };
  }

  function seal(instanceId: string, secrets: Record<string, string | null>): Record<string, string | null> {
    return Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, v === null ? null : deps.keyring.sealString(v, secretAad(instanceId, k))]));
  }

  return {
    /** For POST /api/instances: checks before the instance exists, so a bad body creates nothing. */
    async checkNew(draft: PlanInstance, input: ValuesInput): Promise<void> {
      if (input.values === undefined && input.secrets === undefined) return;
      check(await bundleOf(draft, draft.releaseVersion), draft, input, {});
    },

    async set(instance: InstanceRecord, input: ValuesInput): Promise<void> {
      const bundle = await bundleOf(instance);
      const { values } = check(bundle, instance, input, instance.values);
      await deps.instances.setValues(instance.id, values, seal(instance.id, input.secrets ?? {}));
    },

    async view(instance: InstanceRecord): Promise<ValuesView> {
      const resolved = await resolveRelease(deps.planner, instance);
      if (resolved.kind !== 'bundle') {
        return { release: null, schema: null, values: instance.values, effectiveValues: instance.values, secrets: {} };
      }
      const { bundle } = resolved;
      return {
        release: bundle.release.version,
        schema: bundle.schema,
        values: instance.values,
        effectiveValues: checkValues(bundle, instance.values, null).values,
        secrets: Object.fromEntries(bundle.secretKeys.map((k) => [k, instance.secretsSet.includes(k) ? 'set' : 'unset'])),
      };
    },
  };
}

export type ValuesService = ReturnType<typeof createValuesService>;
