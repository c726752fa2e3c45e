// The SSE bridge (`everruns-server`) on ECS Fargate: the public ALB (SSE and `/mcp` to the bridge,
// everything else to the API function), the internal NLB carrying the workers' gRPC (TCP 9001,
// worker function only), and the one-off migration task definition (`everruns-server migrate`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as targets from 'aws-cdk-lib/aws-elasticloadbalancingv2-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { EverrunsSettings } from './config';
import { otelEnv } from './functions';
import { Network } from './network';
import { TaskQueue } from './queue';

export const SSE_PATH = '/api/v1/sessions/*/sse';
/** The MCP endpoint: served by the bridge (a tool call can wait on a turn). */
export const MCP_PATH = '/mcp';
export const HTTP_PORT = 9000;
export const GRPC_PORT = 9001;

/** The two load balancers, created first so the worker can be given the gRPC address. */
export class LoadBalancers extends Construct {
  readonly alb: elbv2.ApplicationLoadBalancer;
  readonly grpc: elbv2.NetworkLoadBalancer;

  constructor(scope: Construct, id: string, props: { network: Network; settings: EverrunsSettings }) {
    super(scope, id);
    const { network, settings } = props;
    this.alb = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: network.vpc,
      internetFacing: true,
      securityGroup: network.albSg,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      // Longer than the SSE heartbeat, so a quiet stream is never cut by the balancer.
      idleTimeout: cdk.Duration.seconds(settings.albIdleTimeoutSecs),
    });
    this.grpc = new elbv2.NetworkLoadBalancer(this, 'Grpc', {
      vpc: network.vpc,
      internetFacing: false,
      securityGroups: [network.grpcLbSg],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    });
    network.grpcLbSg.addIngressRule(network.workerSg, ec2.Port.tcp(GRPC_PORT), 'worker function gRPC');
  }

  get grpcAddress(): string {
    return `${this.grpc.loadBalancerDnsName}:${GRPC_PORT}`;
  }
}

export interface BridgeProps extends BridgeEnvironmentProps {
  readonly network: Network;
  readonly balancers: LoadBalancers;
  readonly cluster: ecs.Cluster;
  readonly api: lambda.IFunction;
  readonly previousEncryptionKey?: secretsmanager.ISecret;
}

/** The Dockerfile that builds the bridge from the repository root (multi-stage: compile, then run). */
export const REPO_DOCKERFILE = path.join('functions', 'sse-bridge', 'Dockerfile');

/** The bridge image built from `bridgeImageDir` as an asset (Docker runs at deploy only). */
export function bridgeImageAsset(scope: Construct, id: string, s: EverrunsSettings): DockerImageAsset {
  const platform = s.architecture === 'arm64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64;
  // A context of its own (a Dockerfile at its root), e.g. a prebuilt binary beside a small Dockerfile.
  if (fs.existsSync(path.join(s.bridgeImageDir, 'Dockerfile'))) {
    return new DockerImageAsset(scope, id, { directory: s.bridgeImageDir, platform });
  }
  // The repository itself (the default): synth only stages the sources (.dockerignore applies);
  // Docker compiles them at deploy.
  if (fs.existsSync(path.join(s.bridgeImageDir, REPO_DOCKERFILE))) {
    return new DockerImageAsset(scope, id, { directory: s.bridgeImageDir, file: REPO_DOCKERFILE, platform });
  }
  throw new Error(`bridgeImageDir: no Dockerfile nor ${REPO_DOCKERFILE} in ${s.bridgeImageDir}; ` +
    'point it at the repository root or an image context, or pass -c bridgeImageUri=<registry/image:tag>');
}

function bridgeImage(scope: Construct, s: EverrunsSettings): ecs.ContainerImage {
  if (s.bridgeImageUri) return ecs.ContainerImage.fromRegistry(s.bridgeImageUri);
  return ecs.ContainerImage.fromDockerImageAsset(bridgeImageAsset(scope, 'Image', s));
}

/** What the bridge needs besides the image: its settings, secrets and queues. */
export interface BridgeEnvironmentProps {
  readonly settings: EverrunsSettings;
  readonly queue: TaskQueue;
  readonly databaseUrl: secretsmanager.ISecret;
  readonly encryptionKey: secretsmanager.ISecret;
  readonly grpcToken: secretsmanager.ISecret;
  readonly natsUrl?: string;
  readonly valkeyUrl?: string;
}

/** The bridge's environment (secrets by ARN: the binary reads them from Secrets Manager). */
export function bridgeEnvironment(props: BridgeEnvironmentProps): Record<string, string> {
  const s = props.settings;
  const environment: Record<string, string> = {
    DEPLOYMENT_GRADE: 'prod',
    API_PREFIX: '/api',
    AUTH_MODE: s.authMode,
    HTTP_ADDR: `0.0.0.0:${HTTP_PORT}`,
    WORKER_GRPC_ADDR: `0.0.0.0:${GRPC_PORT}`,
    DATABASE_URL_SECRET_ARN: props.databaseUrl.secretArn,
    SECRETS_ENCRYPTION_KEY_SECRET_ARN: props.encryptionKey.secretArn,
    WORKER_GRPC_AUTH_TOKEN_SECRET_ARN: props.grpcToken.secretArn,
    TASK_QUEUE_URL: props.queue.queue.queueUrl,
    TASK_DLQ_URL: props.queue.deadLetterQueue.queueUrl,
    SSE_HEARTBEAT_INTERVAL_SECS: String(s.sseHeartbeatSecs),
    ...otelEnv(s, 'bridge'),
  };
  if (s.databaseIdleReleaseSecs > 0) environment.DATABASE_IDLE_RELEASE_SECS = String(s.databaseIdleReleaseSecs);
  if (props.natsUrl) environment.NATS_URL = props.natsUrl;
  if (props.valkeyUrl) environment.VALKEY_URL = props.valkeyUrl;
  if (s.authBaseUrl) environment.AUTH_BASE_URL = s.authBaseUrl;
  // Seeds the keyless Bedrock provider; its turns (run by the worker function) resolve here.
  if (s.bedrock) environment.DEFAULT_BEDROCK_REGION = s.bedrockRegion ?? cdk.Aws.REGION;
  return environment;
}

/** Lets `grantee` run the bridge: read its secrets, send tasks, drain the dead letters. */
export function grantBridge(grantee: iam.IGrantable, props: BridgeEnvironmentProps): void {
  for (const secret of [props.databaseUrl, props.encryptionKey, props.grpcToken]) secret.grantRead(grantee);
  props.queue.queue.grantSendMessages(grantee);
  props.queue.deadLetterQueue.grantConsumeMessages(grantee);
}

export class Bridge extends Construct {
  readonly service: ecs.FargateService;
  readonly migrationTask: ecs.FargateTaskDefinition;
  readonly listener: elbv2.ApplicationListener;

  constructor(scope: Construct, id: string, props: BridgeProps) {
    super(scope, id);
    const { settings: s, network } = props;
    const image = bridgeImage(this, s);
    const runtimePlatform = {
      cpuArchitecture: s.architecture === 'arm64' ? ecs.CpuArchitecture.ARM64 : ecs.CpuArchitecture.X86_64,
      operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
    };
    const environment = bridgeEnvironment(props);
    const secrets: Record<string, ecs.Secret> = {};
    if (props.previousEncryptionKey) {
      secrets.SECRETS_ENCRYPTION_KEY_PREVIOUS = ecs.Secret.fromSecretsManager(props.previousEncryptionKey);
    }
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH });

    const task = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: s.bridgeCpu,
      memoryLimitMiB: s.bridgeMemoryMb,
      runtimePlatform,
    });
    task.addContainer('bridge', {
      image,
      environment,
      secrets,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'bridge' }),
      portMappings: [{ containerPort: HTTP_PORT, name: 'http' }, { containerPort: GRPC_PORT, name: 'grpc' }],
    });
    grantBridge(task.taskRole, props);

    this.service = new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: task,
      desiredCount: s.bridgeDesiredCount,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      securityGroups: [network.bridgeSg],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      circuitBreaker: { rollback: true },
    });

    // Public ALB: default to the API function, SSE streams and MCP to the bridge.
    const alb = props.balancers.alb;
    this.listener = s.certificateArn
      ? alb.addListener('Https', { port: 443, certificates: [elbv2.ListenerCertificate.fromArn(s.certificateArn)] })
      : alb.addListener('Http', { port: 80 });
    if (s.certificateArn) alb.addRedirect();
    this.listener.addTargets('Api', { targets: [new targets.LambdaTarget(props.api)] });
    const sse = new elbv2.ApplicationTargetGroup(this, 'SseTargets', {
      vpc: network.vpc,
      port: HTTP_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      healthCheck: { path: '/health', healthyHttpCodes: '200' },
      deregistrationDelay: cdk.Duration.seconds(30),
      targets: [this.service.loadBalancerTarget({ containerName: 'bridge', containerPort: HTTP_PORT })],
    });
    this.listener.addAction('Sse', {
      priority: 10,
      conditions: [elbv2.ListenerCondition.pathPatterns([SSE_PATH, MCP_PATH])],
      action: elbv2.ListenerAction.forward([sse]),
    });
    network.bridgeSg.addIngressRule(network.albSg, ec2.Port.tcp(HTTP_PORT), 'ALB to bridge HTTP/SSE');

    // Internal NLB: the workers' gRPC, TCP straight through to the bridge.
    props.balancers.grpc.addListener('Grpc', { port: GRPC_PORT, protocol: elbv2.Protocol.TCP }).addTargets('Bridge', {
      port: GRPC_PORT,
      protocol: elbv2.Protocol.TCP,
      targets: [this.service.loadBalancerTarget({ containerName: 'bridge', containerPort: GRPC_PORT })],
      healthCheck: { protocol: elbv2.Protocol.TCP },
      deregistrationDelay: cdk.Duration.seconds(30),
    });
    network.bridgeSg.addIngressRule(network.grpcLbSg, ec2.Port.tcp(GRPC_PORT), 'gRPC load balancer to bridge');

    // One-off migrations: the same image and settings, `everruns-server migrate`.
    this.migrationTask = new ecs.FargateTaskDefinition(this, 'MigrateTask', {
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform,
    });
    this.migrationTask.addContainer('migrate', {
      image,
      command: ['migrate'],
      environment,
      secrets,
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'migrate' }),
    });
    for (const secret of [props.databaseUrl, props.encryptionKey, props.grpcToken]) {
      secret.grantRead(this.migrationTask.taskRole);
    }
  }
}
