import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseHcl } from '@cdktf/hcl2json';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, type Tags } from 'yaml';
import { DEFAULT_LAYER_NAMES, WRAPPER_PATH } from '../src/aws/constants.js';

const iacDir = fileURLToPath(new URL('../../../docs/iac/', import.meta.url));
const snippet = (name: string) => readFile(`${iacDir}${name}`, 'utf8');

/** What every snippet must set, whatever the tool. */
function expectAppDefenderEnvironment(variables: Record<string, unknown>) {
  expect(variables['AWS_LAMBDA_EXEC_WRAPPER']).toBe(WRAPPER_PATH);
  expect(variables['ES_LICENSE_KEY']).toBeTruthy();
  expect(variables['ES_POLICY_GROUP_NAME']).toBeTruthy();
}

/** The layer named in an ARN (or ARN template) fits the architecture. */
function expectLayerFor(arn: string, architecture: 'x86_64' | 'arm64') {
  expect(arn).toMatch(new RegExp(`:layer:${DEFAULT_LAYER_NAMES[architecture]}:`));
}

// CloudFormation's short intrinsic functions, kept as tagged values so the structure can be checked.
const cloudFormationTags: Tags = [
  'Ref',
  'Sub',
  'GetAtt',
  'Join',
  'If',
  'Select',
  'Split',
  'ImportValue',
  'FindInMap',
].flatMap((name) =>
  (['scalar', 'seq', 'map'] as const).map((nodeClass) => ({
    tag: `!${name}`,
    collection: nodeClass === 'scalar' ? undefined : nodeClass,
    resolve: (value: unknown) => ({ [`Fn::${name}`]: value }),
  })),
) as Tags;

describe('IaC snippets in docs/iac', () => {
  it('SAM: Globals add the layer and the variables', async () => {
    const template = parseYaml(await snippet('sam-template.yaml'), { customTags: cloudFormationTags }) as {
      Globals: {
        Function: {
          Architectures: string[];
          Layers: { 'Fn::Sub': string }[];
          Environment: { Variables: Record<string, unknown> };
        };
      };
      Resources: Record<string, { Type: string }>;
    };
    const fn = template.Globals.Function;
    expectAppDefenderEnvironment(fn.Environment.Variables);
    expect(fn.Layers).toHaveLength(1);
    expectLayerFor(fn.Layers[0]!['Fn::Sub'], fn.Architectures[0] as 'arm64');
    expect(Object.values(template.Resources).map((r) => r.Type)).toContain('AWS::Serverless::Function');
  });

  it('Serverless Framework: provider-wide layer and environment', async () => {
    const config = parseYaml(await snippet('serverless.yml')) as {
      provider: { architecture: 'arm64' | 'x86_64'; layers: string[]; environment: Record<string, unknown> };
      functions: Record<string, unknown>;
    };
    expectAppDefenderEnvironment(config.provider.environment);
    expectLayerFor(config.provider.layers[0]!, config.provider.architecture);
    expect(Object.keys(config.functions)).not.toHaveLength(0);
  });

  it('Terraform: aws_lambda_function with the layer and the variables (parsed with the HCL parser)', async () => {
    const tf = (await parseHcl('main.tf', await snippet('main.tf'))) as {
      locals: Record<string, string>[];
      resource: {
        aws_lambda_function: Record<
          string,
          {
            architectures: string[];
            layers: string[];
            environment: { variables: Record<string, unknown> }[];
          }[]
        >;
      };
    };
    const [fn] = Object.values(tf.resource.aws_lambda_function)[0]!;
    expectAppDefenderEnvironment(fn!.environment[0]!.variables);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Terraform interpolation, not JavaScript
    expect(fn!.layers).toEqual(['${local.appdefender_layer_arn}']);
    expectLayerFor(tf.locals[0]!['appdefender_layer_arn']!, fn!.architectures[0] as 'arm64');
  });

  it('the HCL parser does refuse broken Terraform (so the check above can fail)', async () => {
    await expect(
      parseHcl('broken.tf', 'resource "aws_lambda_function" "x" {\n  layers = [\n'),
    ).rejects.toBeDefined();
  });

  it('CDK: the TypeScript compiles, and the function gets the layer and the variables', async () => {
    const source = await snippet('cdk.ts');
    const output = ts.transpileModule(source, {
      reportDiagnostics: true,
      compilerOptions: {
        module: ts.ModuleKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
      fileName: 'cdk.ts',
    });
    expect(output.diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);

    const file = ts.createSourceFile('cdk.ts', source, ts.ScriptTarget.ES2022, true);
    const properties = new Map<string, ts.Expression>();
    const templates: string[] = [];
    const visit = (node: ts.Node) => {
      if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name))
        properties.set(node.name.text, node.initializer);
      if (ts.isTemplateExpression(node)) templates.push(node.getText(file));
      ts.forEachChild(node, visit);
    };
    visit(file);
    const environment = properties.get('environment');
    expect(environment && ts.isObjectLiteralExpression(environment)).toBe(true);
    const variables = Object.fromEntries(
      (environment as ts.ObjectLiteralExpression).properties
        .filter(ts.isPropertyAssignment)
        .map((p) => [
          p.name.getText(file),
          ts.isStringLiteral(p.initializer) ? p.initializer.text : p.initializer.getText(file),
        ]),
    );
    expectAppDefenderEnvironment(variables);
    expect(properties.get('layers')?.getText(file)).toBe('[appDefenderLayer]');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the snippet's template literal, as text
    expect(templates.some((t) => t.includes(':layer:${layerName}:'))).toBe(true);
    expect(source).toContain(`'${DEFAULT_LAYER_NAMES.arm64}'`);
    expect(source).toContain(`'${DEFAULT_LAYER_NAMES.x86_64}'`);
  });
});
