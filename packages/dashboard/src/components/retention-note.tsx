import { capitalize, formatRetention } from '../lib/format.js';
import { useSession } from '../session.js';

/** The plan and how long its events are kept, shown wherever events are listed. */
export function RetentionNote() {
  const { me } = useSession();
  return (
    <p className="retention" data-testid="retention">
      <span className={`plan-badge plan-${me.plan.name}`}>{capitalize(me.plan.name)} plan</span> Events are
      kept for <strong>{formatRetention(me.plan.retentionDays)}</strong>, then deleted.
    </p>
  );
}
