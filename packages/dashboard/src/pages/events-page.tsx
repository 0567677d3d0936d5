import { EventsView } from '../components/events-view.js';

export function EventsPage() {
  return (
    <div className="page">
      <header className="page-header">
        <div>
          <h1>Events</h1>
          <p className="muted">Every observe and deny from your functions, as it happens.</p>
        </div>
      </header>
      <EventsView />
    </div>
  );
}
