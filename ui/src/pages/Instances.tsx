import { useState } from 'react';
import { BarElement, CategoryScale, Chart as ChartJS, LinearScale, Tooltip as ChartTooltip } from 'chart.js';
import { Bar } from 'react-chartjs-2';
import type { AgentRegistrationView, InstanceView, UpgradeView } from '../../../api/responses.js';
import { api } from '../api.js';
import { Badge, Empty, ErrorNote } from '../components/bits.js';
import { ago, MODE_LABEL } from '../format.js';
import { useLoad } from '../hooks.js';
import { linkProps, navigate } from '../router.js';
import { AddInstanceModal } from './AddInstance.js';
import { useCan } from '../role.js';
import { DRIFT_LABEL } from './DriftReport.js';

ChartJS.register(BarElement, CategoryScale, LinearScale, ChartTooltip);

/** The states the filter offers; an instance can be in several (drifted and parked). */
const STATE_FILTERS = {
  all: 'all states',
  'in-sync': 'in sync',
  drifted: 'drifted',
  unknown: 'drift unknown',
  'not-checked': 'drift not checked',
  parked: 'parked',
  offline: 'offline',
} as const;
type StateFilter = keyof typeof STATE_FILTERS;

interface Facts {
  instance: InstanceView;
  latest?: UpgradeView;
  agent: { status: string; label: string };
}

const isParked = (f: Facts) => f.latest?.status === 'needs-attention';
/** Unreachable at its last drift check, or remote without an approved agent. */
const isOffline = (f: Facts) => f.instance.drift?.status === 'unknown' || (f.instance.isRemote && f.agent.status !== 'approved');

function matchesState(f: Facts, state: StateFilter): boolean {
  switch (state) {
    case 'all':
      return true;
    case 'parked':
      return isParked(f);
    case 'offline':
      return isOffline(f);
    case 'not-checked':
      return !f.instance.drift;
    default:
      return f.instance.drift?.status === state;
  }
}

/** Fleet at a glance: instances per release as a bar chart, and the counts that need a look. */
function FleetSummary(props: { facts: Facts[]; onState: (s: StateFilter) => void }) {
  const perRelease = new Map<string, number>();
  for (const f of props.facts) {
    const release = f.instance.effectiveRelease ?? `tag ${f.instance.effectiveImageTag}`;
    perRelease.set(release, (perRelease.get(release) ?? 0) + 1);
  }
  const releases = [...perRelease.keys()].sort();
  const counts: { key: StateFilter; label: string; n: number; tone: string }[] = [
    { key: 'parked', label: 'parked', n: props.facts.filter(isParked).length, tone: 'warn' },
    { key: 'drifted', label: 'drifted', n: props.facts.filter((f) => f.instance.drift?.status === 'drifted').length, tone: 'warn' },
    { key: 'offline', label: 'offline', n: props.facts.filter(isOffline).length, tone: 'bad' },
  ];
  return (
    <div className="card fleet-summary" data-testid="fleet-summary">
      <div className="fleet-chart">
        <h2 className="fleet-title">Instances per release</h2>
        <div className="fleet-chart-box">
          <Bar
            aria-label={`Instances per release: ${releases.map((r) => `${r} ${perRelease.get(r)}`).join(', ')}`}
            role="img"
            data-testid="release-chart"
            data={{ labels: releases, datasets: [{ label: 'instances', data: releases.map((r) => perRelease.get(r)!), backgroundColor: '#1f5fd1' }] }}
            options={{
              indexAxis: 'y',
              maintainAspectRatio: false,
              animation: false,
              plugins: { legend: { display: false } },
              scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
            }}
          />
        </div>
      </div>
      <ul className="fleet-counts" aria-label="Instances that need a look">
        {counts.map((c) => (
          <li key={c.key}>
            <button type="button" className={`fleet-count tone-${c.n > 0 ? c.tone : 'neutral'}`} data-testid={`count-${c.key}`} onClick={() => props.onState(c.key)}>
              <span className="fleet-count-n">{c.n}</span> {c.label}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

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
  const [label, setLabel] = useState('');
  const [state, setState] = useState<StateFilter>('all');
  const canOperate = useCan('operator');
  const latestBy = new Map<string, UpgradeView>((latest.data ?? []).map((u) => [u.instanceId, u]));
  const facts: Facts[] = (instances.data ?? []).map((i) => ({ instance: i, latest: latestBy.get(i.id), agent: agentStatus(i, registrations.data) }));
  const labels = [...new Set(facts.flatMap((f) => f.instance.labels))].sort();
  const shown = facts.filter((f) => (!label || f.instance.labels.includes(label)) && matchesState(f, state));

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
        <>
        {facts.length > 0 && <FleetSummary facts={facts} onState={setState} />}
        <div className="filters" data-testid="instance-filters">
          <label>
            Label{' '}
            <select value={label} onChange={(e) => setLabel(e.target.value)} data-testid="filter-label">
              <option value="">any label</option>
              {labels.map((l) => (
                <option key={l} value={l}>
                  {l}
                </option>
              ))}
            </select>
          </label>
          <label>
            State{' '}
            <select value={state} onChange={(e) => setState(e.target.value as StateFilter)} data-testid="filter-state">
              {(Object.keys(STATE_FILTERS) as StateFilter[]).map((k) => (
                <option key={k} value={k}>
                  {STATE_FILTERS[k]}
                </option>
              ))}
            </select>
          </label>
          <span className="muted" aria-live="polite">
            {shown.length} of {facts.length} shown
          </span>
        </div>
        <div className="table-scroll">
          <table className="table instances-table" data-testid="instances-table">
            <thead>
              <tr>
                <th>Slug</th>
                <th>Name</th>
                <th>Where</th>
                <th>Agent</th>
                <th>Image tag</th>
                <th>Drift</th>
                <th>Latest upgrade</th>
              </tr>
            </thead>
            <tbody>
              {shown.map(({ instance: i, latest: u, agent }) => {
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
                    <td data-label="Drift">
                      <a {...linkProps(`/instances/${i.id}/drift`)} title={i.drift?.reason ?? (i.drift ? `checked ${ago(i.drift.checkedAt)}` : 'not checked yet')}>
                        {i.drift ? <Badge status={i.drift.status} label={DRIFT_LABEL[i.drift.status]} /> : <span className="muted">not checked</span>}
                      </a>
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
        </>
      )}
    </section>
  );
}
