// Optional services behind flags: NATS with JetStream on Fargate (push event delivery for the
// bridge, found through Cloud Map) and ElastiCache Serverless Valkey (shared rate limits).
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import { Construct } from 'constructs';
import { Network } from './network';

export const NATS_PORT = 4222;
export const NATS_IMAGE = 'public.ecr.aws/docker/library/nats:2.10-alpine';

export class Nats extends Construct {
  readonly url: string;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: { network: Network; cluster: ecs.ICluster }) {
    super(scope, id);
    const { network } = props;
    const namespace = new servicediscovery.PrivateDnsNamespace(this, 'Namespace', {
      name: 'everruns.internal',
      vpc: network.vpc,
    });
    this.securityGroup = new ec2.SecurityGroup(this, 'Sg', { vpc: network.vpc, description: 'Everruns NATS: bridge only' });
    this.securityGroup.addIngressRule(network.bridgeSg, ec2.Port.tcp(NATS_PORT), 'bridge to NATS');
    const task = new ecs.FargateTaskDefinition(this, 'Task', { cpu: 256, memoryLimitMiB: 512 });
    task.addContainer('nats', {
      image: ecs.ContainerImage.fromRegistry(NATS_IMAGE),
      // JetStream on the task's ephemeral storage: streams are a delivery path, not the record.
      command: ['-js', '-sd', '/data'],
      portMappings: [{ containerPort: NATS_PORT }],
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'nats',
        logGroup: new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_WEEK }),
      }),
    });
    new ecs.FargateService(this, 'Service', {
      cluster: props.cluster,
      taskDefinition: task,
      desiredCount: 1,
      securityGroups: [this.securityGroup],
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      cloudMapOptions: { cloudMapNamespace: namespace, name: 'nats' },
    });
    this.url = `nats://nats.everruns.internal:${NATS_PORT}`;
  }
}

export class Valkey extends Construct {
  readonly url: string;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: { network: Network }) {
    super(scope, id);
    const { network } = props;
    this.securityGroup = new ec2.SecurityGroup(this, 'Sg', { vpc: network.vpc, description: 'Everruns Valkey' });
    for (const [peer, what] of [[network.apiSg, 'API function'], [network.bridgeSg, 'bridge']] as const) {
      this.securityGroup.addIngressRule(peer, ec2.Port.tcp(6379), `${what} to Valkey`);
    }
    const cache = new elasticache.CfnServerlessCache(this, 'Cache', {
      engine: 'valkey',
      serverlessCacheName: `everruns-${this.node.addr.slice(0, 12)}`,
      majorEngineVersion: '8',
      securityGroupIds: [this.securityGroup.securityGroupId],
      subnetIds: network.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }).subnetIds,
      cacheUsageLimits: { dataStorage: { maximum: 1, unit: 'GB' }, ecpuPerSecond: { maximum: 5000 } },
    });
    // Serverless caches only speak TLS.
    this.url = `rediss://${cache.attrEndpointAddress}:${cache.attrEndpointPort}`;
  }
}
