// Secrets Manager secrets: the envelope-encryption key (`kek-v1:` + base64 of 32 random bytes,
// written once by a custom resource), the worker gRPC bearer token, and the application's
// database credentials (the RDS document whose host is the RDS Proxy, or the cluster without one).
import * as cdk from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { DATABASE_NAME } from './database';

// The custom resource handler: on Create (and when the target secret changes) it writes a fresh
// key; any other Update and Delete leave the secret alone, so a redeploy never regenerates it.
const KEK_HANDLER = `
const crypto = require('crypto');
const { SecretsManagerClient, PutSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
const sm = new SecretsManagerClient({});
exports.handler = async (event) => {
  const arn = event.ResourceProperties.SecretArn;
  const previous = event.OldResourceProperties && event.OldResourceProperties.SecretArn;
  if (event.RequestType === 'Create' || (event.RequestType === 'Update' && previous !== arn)) {
    const key = 'kek-v1:' + crypto.randomBytes(32).toString('base64');
    await sm.send(new PutSecretValueCommand({ SecretId: arn, SecretString: key }));
  }
  return { PhysicalResourceId: arn };
};
`;

export interface SecretsProps {
  readonly databaseSecret: secretsmanager.ISecret;
  /** The host the application connects to (the proxy or the cluster's writer endpoint). */
  readonly databaseHost: string;
}

export class Secrets extends Construct {
  readonly encryptionKey: secretsmanager.Secret;
  readonly grpcToken: secretsmanager.Secret;
  readonly databaseUrl: secretsmanager.Secret;
  /** Depend on this before starting anything that reads the encryption key. */
  readonly kekReady: cdk.CustomResource;

  constructor(scope: Construct, id: string, props: SecretsProps) {
    super(scope, id);
    // Created with a throwaway generated value, replaced by the custom resource before anything
    // reads it. Keep this definition stable: changing generateSecretString would regenerate it.
    this.encryptionKey = new secretsmanager.Secret(this, 'EncryptionKey', {
      description: 'Everruns SECRETS_ENCRYPTION_KEY (kek-v1:<base64 of 32 bytes>); written once by KekGenerator',
      generateSecretString: { passwordLength: 16, excludePunctuation: true },
      removalPolicy: cdk.RemovalPolicy.RETAIN,
    });
    const handler = new lambda.Function(this, 'KekGeneratorFn', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline(KEK_HANDLER),
      timeout: cdk.Duration.seconds(30),
      description: 'Writes the kek-v1 encryption key into its secret once',
    });
    handler.addToRolePolicy(new iam.PolicyStatement({
      actions: ['secretsmanager:PutSecretValue'],
      resources: [this.encryptionKey.secretArn],
    }));
    const provider = new cr.Provider(this, 'KekProvider', { onEventHandler: handler });
    const generator = new cdk.CustomResource(this, 'KekGenerator', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::EverrunsKek',
      properties: { SecretArn: this.encryptionKey.secretArn },
    });

    this.grpcToken = new secretsmanager.Secret(this, 'WorkerGrpcToken', {
      description: 'Everruns WORKER_GRPC_AUTH_TOKEN (bearer token between worker functions and the bridge)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });

    // The app connects with the master user and password to the given host.
    const db = props.databaseSecret;
    this.databaseUrl = new secretsmanager.Secret(this, 'DatabaseUrl', {
      description: 'Everruns DATABASE_URL as an RDS document (host: the RDS Proxy, or the cluster in the lean profile)',
      secretObjectValue: {
        engine: cdk.SecretValue.unsafePlainText('postgres'),
        username: db.secretValueFromJson('username'),
        password: db.secretValueFromJson('password'),
        host: cdk.SecretValue.unsafePlainText(props.databaseHost),
        port: cdk.SecretValue.unsafePlainText('5432'),
        dbname: cdk.SecretValue.unsafePlainText(DATABASE_NAME),
      },
    });
    this.kekReady = generator;
  }
}
