// AWS CDK (TypeScript): a Node.js function protected by AppDefender.
// The layer and three environment variables are all it takes; no code change in the function.
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';

/** The latest AppDefender layer version published in your region (docs/lambda.md). */
const APPDEFENDER_LAYER_VERSION = 5;

export class CheckoutStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    const architecture = lambda.Architecture.ARM_64;
    // arm64 functions need the -arm64 layer; x86_64 functions the plain one.
    const layerName =
      architecture === lambda.Architecture.ARM_64 ? 'Extrinsec-Appdefender-arm64' : 'Extrinsec-Appdefender';
    const appDefenderLayer = lambda.LayerVersion.fromLayerVersionArn(
      this,
      'AppDefenderLayer',
      `arn:aws:lambda:${this.region}:201476247173:layer:${layerName}:${APPDEFENDER_LAYER_VERSION}`,
    );

    new lambda.Function(this, 'Checkout', {
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture,
      handler: 'index.handler',
      code: lambda.Code.fromAsset('dist/checkout'),
      layers: [appDefenderLayer],
      environment: {
        AWS_LAMBDA_EXEC_WRAPPER: '/opt/appdefender_wrapper',
        // Keep the key out of the source: an SSM parameter resolved at deploy time.
        ES_LICENSE_KEY: ssm.StringParameter.valueForStringParameter(this, '/appdefender/license-key'),
        ES_POLICY_GROUP_NAME: 'payments-strict',
        // Self-hosted control plane only:
        // ES_API_URL: 'https://appdefender.example.com',
      },
    });
  }
}
