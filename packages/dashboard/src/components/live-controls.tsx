import type { StreamState } from '../lib/event-feed.js';
import { formatCount } from '../lib/format.js';

const STATE_LABEL: Record<StreamState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  off: 'Offline',
};

/** Stream status, the pause toggle and, while paused, how many events are waiting. */
export function LiveControls({
  streamState,
  paused,
  pendingCount,
  onTogglePause,
}: {
  streamState: StreamState;
  paused: boolean;
  pendingCount: number;
  onTogglePause: () => void;
}) {
  const state = paused ? 'paused' : streamState;
  return (
    <div className="live-controls">
      <span className={`live-dot state-${state}`} aria-hidden="true" />
      <span className="live-state" role="status">
        {paused ? 'Paused' : STATE_LABEL[streamState]}
        {paused && pendingCount > 0 && (
          <span className="pending-count" data-testid="pending-count">
            {' '}
            · {formatCount(pendingCount)} new
          </span>
        )}
      </span>
      <button type="button" className="button small" aria-pressed={paused} onClick={onTogglePause}>
        {paused ? (pendingCount > 0 ? `Resume and show ${formatCount(pendingCount)}` : 'Resume') : 'Pause'}
      </button>
    </div>
  );
}
