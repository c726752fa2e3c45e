// The two Rust Lambda functions (runtime provided.al2023, handler `bootstrap`): the API, and the
// SQS-triggered iteration worker. Built during synth by cargo-lambda-cdk's RustFunction
// (`cargo lambda build --release` in functions/<name>, whose .cargo/config.toml sizes the
// release profile), or taken prebuilt from `apiCodePath` / `workerCodePath`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { EverrunsSettings, repoRoot } from './config';
import { Network } from './network';
import { TaskQueue } from './queue';

/** Code from a `cargo lambda build` output directory: its `bootstrap.zip`, else the directory. */
export function rustCode(dir: string, setting: string): lambda.Code {
  const zip = path.join(dir, 'bootstrap.zip');
  if (fs.existsSync(zip)) return lambda.Code.fromAsset(zip);
  if (fs.existsSync(path.join(dir, 'bootstrap'))) return lambda.Code.fromAsset(dir);
  throw new Error(`${setting}: no bootstrap.zip or bootstrap in ${dir}; run cargo lambda build --release ` +
    `--output-format zip, or leave ${setting} unset to build during synth`);
}

/** One Rust function: prebuilt from `codePath`, else built during synth from `functions/<dir>`. */
function rustFunction(scope: Construct, id: string, props: lambda.FunctionOptions & {
  architecture: lambda.Architecture; dir: string; binary: string; codePath?: string; setting: string;
}): lambda.Function {
  const { dir, binary, codePath, setting, ...options } = props;
  if (codePath) {
    return new lambda.Function(scope, id, {
      ...options, runtime: lambda.Runtime.PROVIDED_AL2023, handler: 'bootstrap', code: rustCode(codePath, setting),
    });
  }
  return new RustFunction(scope, id, {
    ...options,
    manifestPath: path.join(repoRoot(), 'functions', dir, 'Cargo.toml'),
    binaryName: binary,
    bundling: { architecture: props.architecture, cargoLambdaFlags: ['--locked'] },
  });
}

/** The OpenTelemetry variables that are set, for `role` (api, worker, bridge). */
export function otelEnv(s: EverrunsSettings, role: string): Record<string, string> {
  const env: Record<string, string> = {};
  if (s.otlpEndpoint) env.OTEL_EXPORTER_OTLP_ENDPOINT = s.otlpEndpoint;
  if (s.otelServiceName) env.OTEL_SERVICE_NAME = `${s.otelServiceName}-${role}`;
  if (s.otelEnvironment) env.OTEL_ENVIRONMENT = s.otelEnvironment;
  return env;
}

/** What the worker function needs to run turns on Bedrock models (ConverseStream is authorized
 * as InvokeModelWithResponseStream): foundation models in any region (cross-region inference
 * profiles route to them) and the account's inference profiles. */
export function bedrockInvokeStatement(): iam.PolicyStatement {
  const { PARTITION: partition, ACCOUNT_ID: account } = cdk.Aws;
  return new iam.PolicyStatement({
    sid: 'EverrunsBedrockInvoke',
    actions: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
    resources: [
      `arn:${partition}:bedrock:*::foundation-model/*`,
      `arn:${partition}:bedrock:*:${account}:inference-profile/*`,
      `arn:${partition}:bedrock:*:${account}:application-inference-profile/*`,
    ],
  });
}

export interface FunctionsProps {
  readonly settings: EverrunsSettings;
  readonly network: Network;
  readonly queue: TaskQueue;
  readonly databaseUrl: secretsmanager.ISecret;
  readonly encryptionKey: secretsmanager.ISecret;
  readonly grpcToken: secretsmanager.ISecret;
  /** host:port of the bridge's worker gRPC service. */
  readonly grpcAddress: string;
  readonly valkeyUrl?: string;
  readonly previousEncryptionKey?: secretsmanager.ISecret;
}

export class Functions extends Construct {
  readonly api: lambda.Function;
  readonly worker: lambda.Function;
  readonly apiUrl?: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const s = props.settings;
    const architecture = s.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
    const common = {
      architecture,
      vpc: props.network.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      tracing: s.xrayTracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      loggingFormat: lambda.LoggingFormat.JSON,
    };

    const apiEnv: Record<string, string> = {
      DEPLOYMENT_GRADE: 'prod',
      API_PREFIX: '/api',
      AUTH_MODE: s.authMode,
      DATABASE_URL_SECRET_ARN: props.databaseUrl.secretArn,
      SECRETS_ENCRYPTION_KEY_SECRET_ARN: props.encryptionKey.secretArn,
      TASK_QUEUE_URL: props.queue.queue.queueUrl,
      AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH: 'true',
      ...otelEnv(s, 'api'),
    };
    if (s.authBootstrapApiKey) apiEnv.AUTH_BOOTSTRAP_API_KEY = s.authBootstrapApiKey;
    if (s.authBaseUrl) apiEnv.AUTH_BASE_URL = s.authBaseUrl;
    if (props.valkeyUrl) apiEnv.VALKEY_URL = props.valkeyUrl;
    if (props.previousEncryptionKey) {
      // During a rotation only: the previous key as a deploy-time resolved value.
      apiEnv.SECRETS_ENCRYPTION_KEY_PREVIOUS = props.previousEncryptionKey.secretValue.unsafeUnwrap();
    }
    this.api = rustFunction(this, 'Api', {
      ...common,
      dir: 'api',
      binary: 'everruns-api',
      codePath: s.apiCodePath,
      setting: 'apiCodePath',
      description: 'Everruns API (everruns-api)',
      memorySize: s.apiMemoryMb,
      timeout: cdk.Duration.seconds(s.apiTimeoutSecs),
      securityGroups: [props.network.apiSg],
      environment: apiEnv,
    });
    props.databaseUrl.grantRead(this.api);
    props.encryptionKey.grantRead(this.api);
    props.queue.queue.grantSendMessages(this.api);
    if (s.apiFunctionUrl !== 'off') {
      this.apiUrl = this.api.addFunctionUrl({
        authType: s.apiFunctionUrl === 'iam' ? lambda.FunctionUrlAuthType.AWS_IAM : lambda.FunctionUrlAuthType.NONE,
      });
    }

    this.worker = rustFunction(this, 'Worker', {
      ...common,
      dir: 'worker',
      binary: 'everruns-task-worker',
      codePath: s.workerCodePath,
      setting: 'workerCodePath',
      description: 'Everruns iteration worker (everruns-task-worker), one task per SQS record',
      memorySize: s.workerMemoryMb,
      timeout: cdk.Duration.seconds(s.workerTimeoutSecs),
      securityGroups: [props.network.workerSg],
      environment: {
        DEPLOYMENT_GRADE: 'prod',
        WORKER_GRPC_ADDRESS: props.grpcAddress,
        WORKER_GRPC_AUTH_TOKEN_SECRET_ARN: props.grpcToken.secretArn,
        TASK_QUEUE_URL: props.queue.queue.queueUrl,
        WORKER_TASK_LEASE_SECS: String(s.workerTaskLeaseSecs),
        WORKER_HEARTBEAT_INTERVAL_MS: String(s.workerHeartbeatMs),
        ...otelEnv(s, 'worker'),
      },
    });
    props.grpcToken.grantRead(this.worker);
    if (s.bedrock) this.worker.addToRolePolicy(bedrockInvokeStatement());
    // Consuming grants ChangeMessageVisibility, which the worker uses to extend its lease.
    this.worker.addEventSource(new sources.SqsEventSource(props.queue.queue, {
      batchSize: s.workerBatchSize,
      maxConcurrency: s.workerMaxConcurrency,
      reportBatchItemFailures: true,
    }));
  }
}
