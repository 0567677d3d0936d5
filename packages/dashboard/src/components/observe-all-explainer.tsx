/** What the public `observeAll.ability` group does: shown wherever a user may pick it. */
export function ObserveAllExplainer() {
  return (
    <div className="explainer">
      <h3>
        <code>observeAll.ability</code>: watch first, decide later
      </h3>
      <p>
        The public, read-only policy group that <strong>observes</strong> all three categories. Nothing is
        blocked: every outbound connection and DNS query, every read or write under <code>/tmp</code> and the
        application directory, and every child process is allowed and reported as one event.
      </p>
      <ul className="mode-summary">
        <li>
          <span className="mode-pill mode-observe">observe</span> network
        </li>
        <li>
          <span className="mode-pill mode-observe">observe</span> filesystem
        </li>
        <li>
          <span className="mode-pill mode-observe">observe</span> process
        </li>
      </ul>
      <p className="muted">
        Use what it reports to write a policy group that grants what your function needs and denies the rest.
      </p>
    </div>
  );
}
