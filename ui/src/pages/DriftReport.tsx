/**
 * One instance's drift report: which managed files differ from the release
 * it runs (diffs from the release to the host, `.env` values masked) and
 * which services run another image than the release names. "Reconcile"
 * opens the usual Upgrade to Release dialog on the instance's own release
 * and tag: preview first, then apply exactly that.
 */
import { useState } from 'react';
import type { DriftReportView } from '../../../api/responses.js';
import { api, messageOf } from '../api.js';
import { Badge, ErrorNote } from '../components/bits.js';
import { DiffView } from '../components/DiffView.js';
import { ago } from '../format.js';
import { useLoad } from '../hooks.js';
import { useCan } from '../role.js';
import { linkProps } from '../router.js';

export const DRIFT_LABEL: Record<string, string> = { 'in-sync': 'in sync', drifted: 'drifted', unknown: 'unknown' };

const PROBLEM: Record<DriftReportView['images'][number]['problem'], string> = {
  'no-container': 'no container runs this service',
  'other-image': 'the container was made from another image reference',
  'image-changed': 'the reference names another image on the host now (re-tagged or pulled since)',
  'not-on-host': 'the host has no image under this reference',
};

const shortId = (id: string | null) => (id ? id.replace(/^sha256:/, '').slice(0, 12) : '—');

export function DriftReportPage(props: { id: string }) {
  const report = useLoad(() => api.driftReport(props.id), [props.id], 5_000);
  const canOperate = useCan('operator');
  const [checking, setChecking] = useState(false);
  const [checkError, setCheckError] = useState<string>();
  const r = report.data;

  const checkNow = async () => {
    setChecking(true);
    setCheckError(undefined);
    try {
      await api.checkDrift({ instanceIds: [props.id] });
      // The check runs as a workflow; the page polls its result.
      setTimeout(() => void report.reload(), 1_500);
    } catch (err) {
      setCheckError(messageOf(err));
    } finally {
      setChecking(false);
    }
  };

  return (
    <section data-testid="drift-report">
      <p className="crumbs">
        <a {...linkProps('/')}>← Instances</a>
        {r && (
          <>
            {' · '}
            <a {...linkProps(`/instances/${r.instanceId}`)}>{r.slug}</a>
          </>
        )}
      </p>
      <div className="page-head">
        <h1>
          Drift {r && <span className="mono">{r.slug}</span>} {r?.status && <Badge status={r.status} label={DRIFT_LABEL[r.status]} />}
        </h1>
        {canOperate && (
          <div className="actions-row">
            <button type="button" onClick={checkNow} disabled={checking}>
              {checking ? 'Checking…' : 'Check now'}
            </button>
            {r?.status === 'drifted' && r.reconcile && (
              <a className="button primary" data-testid="reconcile" {...linkProps(`/instances/${r.instanceId}?reconcile=1`)}>
                Reconcile…
              </a>
            )}
          </div>
        )}
      </div>
      <ErrorNote error={report.error ?? checkError} />
      {!r ? (
        <p className="muted">Loading…</p>
      ) : r.status === null ? (
        <p className="muted">Not checked yet. The drift schedule checks every instance; Check now runs it for this one.</p>
      ) : (
        <>
          <p className="muted">
            Checked {r.checkedAt ? ago(r.checkedAt) : ''} against {r.release ? `release ${r.release}` : 'the default release'}
            {r.imageTag ? `, tag ${r.imageTag}` : ''}
            {r.driftedSince ? `; drifted since ${ago(r.driftedSince)}` : ''}. The check only reads: it changes nothing on the host.
          </p>
          {r.status === 'unknown' && <p className="error-note">Could not be checked: {r.reason}</p>}
          {r.status === 'in-sync' && <p>The managed files and the images match the release.</p>}
          {r.status === 'drifted' && r.reconcile && (
            <p className="muted">
              Reconcile is an Upgrade to Release of the release it already runs ({r.reconcile.release ?? 'default'}, tag {r.reconcile.imageTag}): the preview
              shows exactly what it would write back.
            </p>
          )}
          {r.images.length > 0 && (
            <>
              <h2 className="section-title">Images</h2>
              <div className="table-scroll">
                <table className="table" data-testid="drift-images">
                  <thead>
                    <tr>
                      <th>Service</th>
                      <th>Release names</th>
                      <th>Container runs</th>
                      <th>What differs</th>
                    </tr>
                  </thead>
                  <tbody>
                    {r.images.map((i) => (
                      <tr key={i.service}>
                        <td className="mono">{i.service}</td>
                        <td>
                          <span className="mono">{i.expected}</span> <span className="muted mono">{shortId(i.expectedImageId)}</span>
                        </td>
                        <td>
                          <span className="mono">{i.running ?? '—'}</span> <span className="muted mono">{shortId(i.runningImageId)}</span>
                        </td>
                        <td>{PROBLEM[i.problem]}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
          {r.files.length > 0 && (
            <>
              <h2 className="section-title">Managed files</h2>
              {r.files.map((f) => (
                <div key={f.path} className="card drift-file" data-path={f.path}>
                  <p>
                    <span className="mono strong">{f.path}</span> <Badge status={f.status === 'missing' ? 'failed' : 'modified'} label={f.status} />
                    {f.status === 'modified' && <span className="muted"> from the release (−) to the host (+)</span>}
                  </p>
                  {f.diff && <DiffView diff={f.diff} truncated={false} />}
                  {f.truncated && <p className="muted">The diff is cut here; the rest of this file's differences are not shown.</p>}
                </div>
              ))}
            </>
          )}
        </>
      )}
    </section>
  );
}
