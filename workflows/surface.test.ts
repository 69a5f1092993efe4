import { describe, expect, it } from 'vitest';
import type * as workflows from './index.js';
import { ROLLOUT_ACTION_SIGNAL, ROLLOUT_WORKFLOW_TYPE, SEARCH_ATTRIBUTE_NAMES, temporalWorkflowUrl, WORKFLOW_TYPE } from './surface.js';

describe('the Temporal surface', () => {
  it('names only workflow types the worker registers (checked by the compiler too)', () => {
    const names: (keyof typeof workflows)[] = [...Object.values(WORKFLOW_TYPE), ROLLOUT_WORKFLOW_TYPE];
    expect(names.sort()).toEqual(['fleetRollout', 'fullUpgrade', 'imageUpgrade', 'releaseUpgrade']);
  });

  it('keeps the signal names recorded histories carry', () => {
    expect(Object.fromEntries(Object.entries(ROLLOUT_ACTION_SIGNAL).map(([action, s]) => [action, s.name]))).toEqual({
      pause: 'pause',
      resume: 'resume',
      approve: 'approveNextWave',
      abort: 'abort',
    });
    expect(SEARCH_ATTRIBUTE_NAMES).toEqual(['InstanceSlug', 'UpgradeMode', 'ImageTag', 'UpgradeStatus']);
  });

  it("links to a run's history in the console, or the latest run's without a run id", () => {
    expect(temporalWorkflowUrl('http://127.0.0.1:8233', 'upgrade-a b', 'r1')).toBe('http://127.0.0.1:8233/namespaces/default/workflows/upgrade-a%20b/r1/history');
    expect(temporalWorkflowUrl('http://127.0.0.1:8233', 'upgrade-a', null)).toBe('http://127.0.0.1:8233/namespaces/default/workflows/upgrade-a/history');
  });
});
