/** One instance: its head (slug, name, where it runs, its tag) and two tabs, Updates and Settings (`?tab=settings`). */
import { api } from '../api.js';
import { Badge, ErrorNote } from '../components/bits.js';
import { useLoad } from '../hooks.js';
import { linkProps, useLocation } from '../router.js';
import { SettingsTab } from './instance/SettingsTab.js';
import { UpdatesTab } from './instance/UpdatesTab.js';

export function InstanceDetailPage(props: { id: string }) {
  const { search } = useLocation();
  const tab = search.get('tab') === 'settings' ? 'settings' : 'updates';
  const instance = useLoad(() => api.instance(props.id), [props.id], 10_000);
  const i = instance.data;

  if (!i) {
    return (
      <section>
        <p>
          <a {...linkProps('/')}>← Instances</a>
        </p>
        {instance.error ? <ErrorNote error={instance.error} /> : <p className="muted">Loading…</p>}
      </section>
    );
  }

  const tabLink = (key: 'updates' | 'settings', label: string) => (
    <a
      role="tab"
      aria-selected={tab === key}
      className={tab === key ? 'tab active' : 'tab'}
      {...linkProps(key === 'updates' ? `/instances/${i.id}` : `/instances/${i.id}?tab=settings`)}
    >
      {label}
    </a>
  );

  return (
    <section>
      <p className="crumbs">
        <a {...linkProps('/')}>← Instances</a>
      </p>
      <div className="page-head instance-head">
        <h1>
          <span className="mono">{i.slug}</span> <span className="muted head-name">{i.name}</span>
        </h1>
        <div className="facts">
          <span className="chip">{i.isRemote ? 'remote' : 'local'}</span>
          <span>
            tag <span className="mono strong">{i.effectiveImageTag}</span>
            {i.usesDefaultImageTag && <span className="chip">default</span>}
          </span>
          <a {...linkProps(`/instances/${i.id}/drift`)} data-testid="drift-link">
            <Badge status={i.drift?.status ?? 'unknown'} label={i.drift ? `drift: ${i.drift.status === 'in-sync' ? 'in sync' : i.drift.status}` : 'drift: not checked'} />
          </a>
        </div>
      </div>
      <ErrorNote error={instance.error} />
      <div className="tabs" role="tablist" aria-label="Instance">
        {tabLink('updates', 'Updates')}
        {tabLink('settings', 'Settings')}
      </div>
      {tab === 'updates' ? (
        <UpdatesTab
          key={search.get('upgrade') ?? ''}
          instance={i}
          onInstanceChanged={instance.reload}
          initialUpgradeId={search.get('upgrade') ?? undefined}
          initialDialog={search.get('reconcile') ? 'release' : undefined}
        />
      ) : (
        <SettingsTab instance={i} onChanged={instance.reload} />
      )}
    </section>
  );
}
