import { useState } from 'react';
import { SNIPPET_TARGETS, type SnippetTarget, setupSnippet } from '../lib/setup-snippets.js';
import { CopyButton } from './copy-button.js';
import { Tabs } from './tabs.js';

export interface SetupInstructionsProps {
  /** The key to paste, or null when it cannot be shown any more (only its hash is stored). */
  licenseKey: string | null;
  policyGroup: string;
  apiUrl: string | null;
}

/** The three steps to protect a function, with snippets ready to paste for each deployment tool. */
export function SetupInstructions({ licenseKey, policyGroup, apiUrl }: SetupInstructionsProps) {
  const [target, setTarget] = useState<SnippetTarget>('console');
  const snippet = setupSnippet(target, {
    licenseKey: licenseKey ?? 'YOUR_LICENSE_KEY',
    policyGroup,
    apiUrl,
  });
  return (
    <ol className="steps">
      <li>
        <h3>Add the AppDefender layer</h3>
        <p>
          Build the layer with <code>npm run build</code> (zips for <code>x86_64</code> and <code>arm64</code>{' '}
          land in <code>packages/layer/dist/</code>), publish it once per region and architecture, and add its
          ARN to the function. No code change, no redeploy of your code.
        </p>
        <pre className="code">
          <code>
            aws lambda publish-layer-version --layer-name appdefender-x86_64 \{'\n'}
            {'  '}--zip-file fileb://packages/layer/dist/appdefender-layer-x86_64.zip \{'\n'}
            {'  '}--compatible-architectures x86_64
          </code>
        </pre>
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
