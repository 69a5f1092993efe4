import { useState } from 'react';
import type { AgentRegistrationView, InstanceView, UpgradeView } from '../../../api/responses.js';
import { api } from '../api.js';
import { Badge, Empty, ErrorNote } from '../components/bits.js';
import { ago, MODE_LABEL } from '../format.js';
import { useLoad } from '../hooks.js';
import { linkProps, navigate } from '../router.js';
import { AddInstanceModal } from './AddInstance.js';
import { useCan } from '../role.js';

/** How an instance is reached, and its agent's state when it is remote. */
export function agentStatus(i: InstanceView, registrations: AgentRegistrationView[] | undefined): { status: string; label: string } {
  if (!i.isRemote) return { status: 'local', label: 'local (no agent)' };
  const mine = (registrations ?? []).filter((r) => r.instanceId === i.id || r.slug === i.slug);
  if (i.agentUrl) return { status: 'approved', label: 'approved' };
  if (mine.some((r) => r.status === 'pending')) return { status: 'pending', label: 'pending approval' };
  if (mine.some((r) => r.status === 'revoked')) return { status: 'revoked', label: 'revoked' };
  return { status: 'revoked', label: 'no approved agent' };
}

export function InstancesPage() {
  const instances = useLoad(() => api.instances(), [], 5000);
  const latest = useLoad(() => api.latestUpgrades(), [], 3000);
  // Agent states are a nicety here: a failure to read them leaves that column plain.
  const registrations = useLoad(() => api.registrations().catch(() => [] as AgentRegistrationView[]), [], 10000);
  const [adding, setAdding] = useState(false);
  const canOperate = useCan('operator');
  const latestBy = new Map<string, UpgradeView>((latest.data ?? []).map((u) => [u.instanceId, u]));

  return (
    <section>
      <div className="page-head">
        <h1>Instances</h1>
        {canOperate && (
          <button type="button" className="primary" onClick={() => setAdding(true)}>
            Add instance
          </button>
        )}
      </div>
      {adding && <AddInstanceModal onClose={() => setAdding(false)} onCreated={(id) => navigate(`/instances/${id}`)} />}
      <ErrorNote error={instances.error ?? latest.error} />
      {instances.loading && !instances.data ? (
        <p className="muted">Loading…</p>
      ) : instances.data && instances.data.length === 0 ? (
        <Empty>
          No instance yet. Add one with <strong>Add instance</strong> (or <code>POST /api/instances</code>), approve an agent on the{' '}
          <a {...linkProps('/agents')}>Agents</a> page, or lay out a demo tenant with <code>npm run demo</code>.
        </Empty>
      ) : (
        <div className="table-scroll">
          <table className="table instances-table" data-testid="instances-table">
            <thead>
              <tr>
                <th>Slug</th>
                <th>Name</th>
                <th>Where</th>
                <th>Agent</th>
                <th>Image tag</th>
                <th>Latest upgrade</th>
              </tr>
            </thead>
            <tbody>
              {(instances.data ?? []).map((i) => {
                const u = latestBy.get(i.id);
                const agent = agentStatus(i, registrations.data);
                return (
                  <tr key={i.id} data-slug={i.slug}>
                    <td data-label="Slug">
                      <a className="mono strong" {...linkProps(`/instances/${i.id}`)}>
                        {i.slug}
                      </a>
                    </td>
                    <td data-label="Name">{i.name}</td>
                    <td data-label="Where">{i.isRemote ? 'remote' : 'local'}</td>
                    <td data-label="Agent">{i.isRemote ? <Badge status={agent.status} label={agent.label} /> : <span className="muted">{agent.label}</span>}</td>
                    <td data-label="Image tag">
                      <span className="mono">{i.effectiveImageTag}</span>{' '}
                      {i.usesDefaultImageTag && (
                        <span className="chip" title="The instance has no tag of its own and follows the control plane's IMAGE_TAG">
                          default
                        </span>
                      )}
                    </td>
                    <td data-label="Latest upgrade">
                      {u ? (
                        <span className="latest">
                          <Badge status={u.status} /> <span className="muted">{MODE_LABEL[u.mode] ?? u.mode}, {ago(u.startedAt)}</span>
                        </span>
                      ) : (
                        <span className="muted">never upgraded</span>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
