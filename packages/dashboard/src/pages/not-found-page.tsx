import { Link } from '../components/link.js';

export function NotFoundPage() {
  return (
    <div className="page narrow">
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. Go to <Link href="/events">Events</Link>.
      </p>
    </div>
  );
}
