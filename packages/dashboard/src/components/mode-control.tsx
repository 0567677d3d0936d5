import { useId } from 'react';
import { MODES, type Mode } from '../api/types.js';

const MODE_HELP: Record<Mode, string> = {
  grant: 'Allowed, no event',
  observe: 'Allowed, one event',
  deny: 'Blocked, one event',
};

export interface ModeControlProps {
  legend: string;
  description: string;
  value: Mode;
  onChange: (mode: Mode) => void;
  disabled?: boolean;
  error?: string | undefined;
}

/** Grant / Observe / Deny as a native radio group: arrow keys move, the legend names it. */
export function ModeControl({ legend, description, value, onChange, disabled, error }: ModeControlProps) {
  const name = useId();
  return (
    <fieldset className="mode-control" disabled={disabled} aria-describedby={`${name}-desc`}>
      <legend>{legend}</legend>
      <p className="field-hint" id={`${name}-desc`}>
        {description}
      </p>
      <div className="segmented large">
        {MODES.map((mode) => (
          <label key={mode} className={`segment mode-${mode}`}>
            <input
              type="radio"
              name={name}
              value={mode}
              checked={value === mode}
              onChange={() => onChange(mode)}
            />
            <span>
              <strong>{mode[0]!.toUpperCase() + mode.slice(1)}</strong>
              <small>{MODE_HELP[mode]}</small>
            </span>
          </label>
        ))}
      </div>
      {error && <p className="field-error">{error}</p>}
    </fieldset>
  );
}
