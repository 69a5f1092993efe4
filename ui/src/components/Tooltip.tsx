/** A tooltip that shows on hover and on keyboard focus, and is the trigger's accessible description. */
import { useId, useState, type ReactElement, type ReactNode } from 'react';

export function Tooltip(props: { text: ReactNode; children: (describedBy: string) => ReactElement }) {
  const id = useId();
  const [open, setOpen] = useState(false);
  return (
    <span
      className="tooltip-wrap"
      onMouseEnter={() => setOpen(true)}
      onMouseLeave={() => setOpen(false)}
      onFocus={() => setOpen(true)}
      onBlur={() => setOpen(false)}
      onKeyDown={(e) => e.key === 'Escape' && setOpen(false)}
    >
      {props.children(id)}
      <span role="tooltip" id={id} className={`tooltip${open ? ' tooltip-open' : ''}`}>
        {props.text}
      </span>
    </span>
  );
}
