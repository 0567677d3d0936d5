import { describe, expect, it } from 'vitest';
import {
  EXEC_WRAPPER,
  environmentVariables,
  layerArn,
  SNIPPET_TARGETS,
  setupSnippet,
} from './setup-snippets.js';

const ARN = 'arn:aws:lambda:eu-west-1:201476247173:layer:Extrinsec-Appdefender-arm64:7';
const values = {
  layerArn: ARN,
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

  it.each(['cli', 'sam', 'cdk', 'serverless'] as const)('the %s snippet attaches the layer', (target) => {
    expect(setupSnippet(target, values)).toContain(ARN);
  });

  it('the console snippet is only the key=value lines the console editor takes (the ARN is shown above it)', () => {
    expect(setupSnippet('console', values).split('\n')).toEqual([
      'ES_LICENSE_KEY=adk_live_abc123',
      "ES_POLICY_GROUP_NAME=team's group",
      'AWS_LAMBDA_EXEC_WRAPPER=/opt/appdefender_wrapper',
      'ES_API_URL=https://ad.example.com',
    ]);
  });

  it('builds the layer ARN per region and architecture, with a placeholder version', () => {
    expect(layerArn({ region: 'eu-west-1', architecture: 'arm64', version: '7' })).toBe(ARN);
    expect(layerArn({ region: ' us-east-1 ', architecture: 'x86_64' })).toBe(
      'arn:aws:lambda:us-east-1:201476247173:layer:Extrinsec-Appdefender:<EXTENSION_VERSION>',
    );
    expect(layerArn({ region: '', architecture: 'x86_64', version: '' })).toContain(':<AWS_REGION>:');
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
    expect(setupSnippet('cli', values)).toContain(`--layers '${ARN}'`);
  });
});
