/** The wrapper path the layer installs; it is what turns AppDefender on in a function. */
export const EXEC_WRAPPER = '/opt/appdefender_wrapper';

export interface SetupValues {
  licenseKey: string;
  policyGroup: string;
  /** This control plane's base URL, or null when the function should use the default. */
  apiUrl: string | null;
  /** The layer version ARN to attach (see `layerArn`). */
  layerArn: string;
}

export type Architecture = 'x86_64' | 'arm64';

/**
 * The published layer's ARN for a region and architecture (docs/lambda.md); the arm64 build is a
 * separate layer. `version` stays a placeholder until the user knows it.
 */
export function layerArn(options: { region: string; architecture: Architecture; version?: string }): string {
  const name = options.architecture === 'arm64' ? 'Extrinsec-Appdefender-arm64' : 'Extrinsec-Appdefender';
  const region = options.region.trim() || '<AWS_REGION>';
  return `arn:aws:lambda:${region}:201476247173:layer:${name}:${options.version?.trim() || '<EXTENSION_VERSION>'}`;
}

export type SnippetTarget = 'console' | 'cli' | 'sam' | 'cdk' | 'serverless';

export const SNIPPET_TARGETS: readonly { id: SnippetTarget; label: string; language: string }[] = [
  { id: 'console', label: 'AWS console', language: 'text' },
  { id: 'cli', label: 'AWS CLI', language: 'shell' },
  { id: 'sam', label: 'SAM', language: 'yaml' },
  { id: 'cdk', label: 'CDK', language: 'typescript' },
  { id: 'serverless', label: 'Serverless Framework', language: 'yaml' },
];

/** The environment variables a function needs, in the order the docs list them. */
export function environmentVariables(values: SetupValues): [string, string][] {
  const variables: [string, string][] = [
    ['ES_LICENSE_KEY', values.licenseKey],
    ['ES_POLICY_GROUP_NAME', values.policyGroup],
    ['AWS_LAMBDA_EXEC_WRAPPER', EXEC_WRAPPER],
  ];
  if (values.apiUrl) variables.push(['ES_API_URL', values.apiUrl]);
  return variables;
}

function yamlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function shellSingleQuoted(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * A ready-to-paste configuration snippet for one deployment tool. Values are quoted for the
 * target syntax so a policy-group name with spaces or quotes still pastes correctly.
 */
export function setupSnippet(target: SnippetTarget, values: SetupValues): string {
  const variables = environmentVariables(values);
  switch (target) {
    case 'console':
      // Key=value lines, as the console's environment variable editor lists them.
      return variables.map(([key, value]) => `${key}=${value}`).join('\n');
    case 'cli': {
      // The CLI's shorthand cannot hold commas or braces unquoted, so the JSON form is used.
      const json = JSON.stringify({ Variables: Object.fromEntries(variables) });
      return [
        "# Replaces the function's layers and environment: list any it already has too.",
        'aws lambda update-function-configuration \\',
        '  --function-name YOUR_FUNCTION \\',
        `  --layers ${shellSingleQuoted(values.layerArn)} \\`,
        `  --environment ${shellSingleQuoted(json)}`,
      ].join('\n');
    }
    case 'sam':
      return [
        'Resources:',
        '  YourFunction:',
        '    Type: AWS::Serverless::Function',
        '    Properties:',
        '      Layers:',
        `        - ${yamlString(values.layerArn)}`,
        '      Environment:',
        '        Variables:',
        ...variables.map(([key, value]) => `          ${key}: ${yamlString(value)}`),
      ].join('\n');
    case 'cdk':
      return [
        "import * as lambda from 'aws-cdk-lib/aws-lambda';",
        '',
        `const appdefender = lambda.LayerVersion.fromLayerVersionArn(this, 'AppDefender', ${JSON.stringify(values.layerArn)});`,
        '',
        "new lambda.Function(this, 'YourFunction', {",
        '  // runtime, handler, code as before',
        '  layers: [appdefender],',
        '  environment: {',
        ...variables.map(([key, value]) => `    ${key}: ${JSON.stringify(value)},`),
        '  },',
        '});',
      ].join('\n');
    case 'serverless':
      return [
        'functions:',
        '  yourFunction:',
        '    handler: handler.main',
        '    layers:',
        `      - ${yamlString(values.layerArn)}`,
        '    environment:',
        ...variables.map(([key, value]) => `      ${key}: ${yamlString(value)}`),
      ].join('\n');
  }
}
