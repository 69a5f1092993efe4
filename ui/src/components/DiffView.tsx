/** A unified diff rendered by diff2html (which escapes the file content it shows). */
import { html } from 'diff2html';
import { useMemo } from 'react';

export function DiffView(props: { diff: string; truncated: boolean; maxKiB?: number }) {
  const rendered = useMemo(
    () =>
      html(props.diff, {
        drawFileList: false,
        outputFormat: 'line-by-line',
        matching: 'lines',
        renderNothingWhenEmpty: false,
      }),
    [props.diff],
  );
  return (
    <div className="diff">
      <div className="diff-scroll" dangerouslySetInnerHTML={{ __html: rendered }} />
      {props.truncated && (
        <p className="diff-truncated" data-testid="diff-truncated">
          The diff is cut here{props.maxKiB ? ` at ${props.maxKiB} KiB` : ''}: the rest of this file's changes are not shown. The apply writes the whole
          file.
        </p>
      )}
    </div>
  );
}
