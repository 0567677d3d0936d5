import { describe, expect, it } from 'vitest';
import { EXEC_WRAPPER, environmentVariables, SNIPPET_TARGETS, setupSnippet } from './setup-snippets.js';

const values = {
  licenseKey: 'adk_live_abc123',
  policyGroup: "team's group",
  apiUrl: 'https://ad.example.com',
};

describe('setup snippets', () => {
  it('lists the three variables, plus ES_API_URL when self-hosting', () => {
    expect(environmentVariables({ ...values, apiUrl: null })).toEqual([
      ['ES_LICENSE_KEY', 'adk_live_abc123'],
      ['ES_POLICY_GROUP_NAME', "team's group"],
      ['AWS_LAMBDA_EXEC_WRAPPER', '/opt/appdefender_wrapper'],
    ]);
    expect(environmentVariables(values)).toContainEqual(['ES_API_URL', 'https://ad.example.com']);
  });

  it.each(SNIPPET_TARGETS.map((target) => target.id))('the %s snippet carries every variable', (target) => {
    const snippet = setupSnippet(target, values);
    expect(snippet).toContain('adk_live_abc123');
    expect(snippet).toContain(EXEC_WRAPPER);
    expect(snippet).toContain('ES_POLICY_GROUP_NAME');
    expect(snippet).toContain('https://ad.example.com');
  });

  it('the AWS CLI snippet is a JSON environment that survives shell quoting', () => {
    const snippet = setupSnippet('cli', values);
    const quoted = /--environment '((?:[^']|'\\'')*)'$/m.exec(snippet)?.[1];
    expect(quoted).toBeDefined();
    const json = JSON.parse(quoted!.replaceAll("'\\''", "'"));
    expect(json.Variables).toEqual({
      ES_LICENSE_KEY: 'adk_live_abc123',
      ES_POLICY_GROUP_NAME: "team's group",
      AWS_LAMBDA_EXEC_WRAPPER: EXEC_WRAPPER,
      ES_API_URL: 'https://ad.example.com',
    });
  });

  it('quotes YAML values so names with quotes stay one string', () => {
    expect(setupSnippet('sam', values)).toContain("ES_POLICY_GROUP_NAME: 'team''s group'");
    expect(setupSnippet('serverless', values)).toContain("ES_POLICY_GROUP_NAME: 'team''s group'");
    expect(setupSnippet('cdk', values)).toContain(`ES_POLICY_GROUP_NAME: "team's group",`);
    expect(setupSnippet('console', values).split('\n')).toContain("ES_POLICY_GROUP_NAME=team's group");
  });
});
