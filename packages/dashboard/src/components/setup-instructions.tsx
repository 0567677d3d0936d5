import { useId, useState } from 'react';
import {
  type Architecture,
  layerArn,
  SNIPPET_TARGETS,
  type SnippetTarget,
  setupSnippet,
} from '../lib/setup-snippets.js';
import { CopyButton } from './copy-button.js';
import { Tabs } from './tabs.js';

export interface SetupInstructionsProps {
  /** The key to paste, or null when it cannot be shown any more (only its hash is stored). */
  licenseKey: string | null;
  policyGroup: string;
  apiUrl: string | null;
  /** Whether the key's events reach this dashboard (not for temporary keys). */
  eventsInDashboard: boolean;
}

/** The three steps to protect a function, with snippets ready to paste for each deployment tool. */
export function SetupInstructions({
  licenseKey,
  policyGroup,
  apiUrl,
  eventsInDashboard,
}: SetupInstructionsProps) {
  const [target, setTarget] = useState<SnippetTarget>('console');
  const [region, setRegion] = useState('us-east-1');
  const [architecture, setArchitecture] = useState<Architecture>('x86_64');
  const [version, setVersion] = useState('');
  const id = useId();
  const arn = layerArn({ region, architecture, version });
  const snippet = setupSnippet(target, {
    licenseKey: licenseKey ?? 'YOUR_LICENSE_KEY',
    policyGroup,
    apiUrl,
    layerArn: arn,
  });
  return (
    <ol className="steps">
      <li>
        <h3>Add the AppDefender layer</h3>
        <p>
          One layer per region and architecture (most functions are <code>x86_64</code>). Self-hosting?
          Publish the zips that <code>npm run build</code> writes to <code>packages/layer/dist/</code> and use
          the ARN Lambda gives you.
        </p>
        <div className="layer-fields">
          <div className="field">
            <label htmlFor={`${id}-region`}>AWS region</label>
            <input
              id={`${id}-region`}
              value={region}
              spellCheck={false}
              onChange={(event) => setRegion(event.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-arch`}>Architecture</label>
            <select
              id={`${id}-arch`}
              value={architecture}
              onChange={(event) => setArchitecture(event.target.value as Architecture)}
            >
              <option value="x86_64">x86_64</option>
              <option value="arm64">arm64</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-version`}>Layer version</label>
            <input
              id={`${id}-version`}
              value={version}
              inputMode="numeric"
              placeholder="latest published"
              onChange={(event) => setVersion(event.target.value)}
            />
          </div>
        </div>
        <div className="secret">
          <code data-testid="layer-arn">{arn}</code>
          <CopyButton text={arn} />
        </div>
      </li>
      <li>
        <h3>Set the environment variables</h3>
        <p>
          <code>ES_LICENSE_KEY</code> identifies your account, <code>ES_POLICY_GROUP_NAME</code> picks the
          policy group to enforce and <code>AWS_LAMBDA_EXEC_WRAPPER</code> turns AppDefender on.
          {apiUrl && (
            <>
              {' '}
              <code>ES_API_URL</code> points the function at this control plane; it must be reachable from
              your function.
            </>
          )}
        </p>
        <Tabs label="Deployment tool" tabs={SNIPPET_TARGETS} selected={target} onSelect={setTarget}>
          <div className="snippet">
            <pre className="code">
              <code>{snippet}</code>
            </pre>
            <CopyButton text={snippet} />
          </div>
        </Tabs>
      </li>
      <li>
        <h3>Invoke the function</h3>
        <p>
          Events appear in the function's log (CloudWatch) as one JSON line each and, in real time, on the
          Events page. The function shows up under Functions on its first start.
        </p>
      </li>
    </ol>
  );
}
