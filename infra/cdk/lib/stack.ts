// The Everruns serverless stack: wires network, database, secrets, queue, functions, bridge and
// the optional services together, and exports the URLs. Two profiles (lib/config.ts): standard
// (ALB, NLB, NAT gateway, RDS Proxy, Fargate bridge) and lean (lib/lean.ts: CloudFront, a NAT
// instance, a pausing Aurora, the bridge on one Graviton instance).
import * as cdk from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { Bridge, LoadBalancers } from './bridge';
import { EverrunsSettings, validate } from './config';
import { Database } from './database';
import { Functions } from './functions';
import { BridgeInstance, Edge } from './lean';
import { Network } from './network';
import { Nats, Valkey } from './optional';
import { TaskQueue } from './queue';
import { Secrets } from './secrets';

export interface EverrunsStackProps extends cdk.StackProps {
  readonly settings: EverrunsSettings;
}

/** What both profiles share. */
interface Core {
  readonly settings: EverrunsSettings;
  readonly network: Network;
  readonly secrets: Secrets;
  readonly queue: TaskQueue;
  readonly previousEncryptionKey?: secretsmanager.ISecret;
}

export class EverrunsStack extends cdk.Stack {
  constructor(scope: Construct, id: string, props: EverrunsStackProps) {
    super(scope, id, props);
    const settings = validate(props.settings);
    const lean = settings.profile === 'lean';
    const network = new Network(this, 'Network', {
      natGateways: settings.natGateways,
      natInstanceType: lean ? settings.natInstanceType : undefined,
    });
    const database = new Database(this, 'Database', {
      network,
      minAcu: settings.dbMinAcu,
      maxAcu: settings.dbMaxAcu,
      proxy: !lean,
      autoPauseSecs: settings.dbAutoPauseSecs,
    });
    const secrets = new Secrets(this, 'Secrets', { databaseSecret: database.cluster.secret!, databaseHost: database.endpoint });
    const queue = new TaskQueue(this, 'Queue', {
      visibilitySecs: settings.queueVisibilitySecs,
      maxReceiveCount: settings.maxReceiveCount,
    });
    const previousEncryptionKey = settings.previousEncryptionKeySecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'PreviousEncryptionKey', settings.previousEncryptionKeySecretArn)
      : undefined;
    const core: Core = { settings, network, secrets, queue, previousEncryptionKey };
    if (lean) this.lean(core);
    else this.standard(core);
    new cdk.CfnOutput(this, 'TaskQueueUrl', { value: queue.queue.queueUrl });
    new cdk.CfnOutput(this, 'EncryptionKeySecretArn', { value: secrets.encryptionKey.secretArn });
  }

  private functions(core: Core, grpcAddress: string, valkeyUrl?: string): Functions {
    const { settings, network, secrets, queue, previousEncryptionKey } = core;
    const functions = new Functions(this, 'Functions', {
      settings,
      network,
      queue,
      databaseUrl: secrets.databaseUrl,
      encryptionKey: secrets.encryptionKey,
      grpcToken: secrets.grpcToken,
      grpcAddress,
      valkeyUrl,
      previousEncryptionKey,
    });
    functions.api.node.addDependency(secrets.kekReady);
    return functions;
  }

  private bridgeSecrets(core: Core) {
    const { secrets } = core;
    return { databaseUrl: secrets.databaseUrl, encryptionKey: secrets.encryptionKey, grpcToken: secrets.grpcToken };
  }

  private lean(core: Core): void {
    const { settings, network, queue } = core;
    const bridge = new BridgeInstance(this, 'Bridge', { settings, network, queue, ...this.bridgeSecrets(core) });
    bridge.instance.node.addDependency(core.secrets.kekReady);
    const functions = this.functions(core, bridge.grpcAddress);
    const edge = new Edge(this, 'Edge', { apiUrl: functions.apiUrl!, bridge });
    new cdk.CfnOutput(this, 'ApiUrl', { value: edge.baseUrl, description: 'Everruns API base URL (CloudFront)' });
    new cdk.CfnOutput(this, 'SseUrl', { value: edge.baseUrl, description: 'SSE base URL: /v1/sessions/{id}/sse goes to the bridge' });
    new cdk.CfnOutput(this, 'BridgeInstanceId', {
      value: bridge.instance.instanceId,
      description: 'The bridge instance (Session Manager: aws ssm start-session --target <id>)',
    });
  }

  private standard(core: Core): void {
    const { settings, network, queue } = core;
    const valkey = settings.enableValkey ? new Valkey(this, 'Valkey', { network }) : undefined;
    const balancers = new LoadBalancers(this, 'Balancers', { network, settings });
    const functions = this.functions(core, balancers.grpcAddress, valkey?.url);
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc: network.vpc });
    const nats = settings.enableNats ? new Nats(this, 'Nats', { network, cluster }) : undefined;
    const bridge = new Bridge(this, 'Bridge', {
      settings,
      network,
      balancers,
      cluster,
      queue,
      api: functions.api,
      ...this.bridgeSecrets(core),
      previousEncryptionKey: core.previousEncryptionKey,
      valkeyUrl: valkey?.url,
      natsUrl: nats?.url,
    });
    bridge.service.node.addDependency(core.secrets.kekReady);

    const scheme = settings.certificateArn ? 'https' : 'http';
    const base = `${scheme}://${balancers.alb.loadBalancerDnsName}/api`;
    new cdk.CfnOutput(this, 'ApiUrl', { value: base, description: 'Everruns API base URL (the ALB)' });
    new cdk.CfnOutput(this, 'SseUrl', { value: base, description: 'SSE base URL: /v1/sessions/{id}/sse goes to the bridge' });
    if (functions.apiUrl) new cdk.CfnOutput(this, 'ApiFunctionUrl', { value: functions.apiUrl.url });
    new cdk.CfnOutput(this, 'ClusterName', { value: cluster.clusterName });
    new cdk.CfnOutput(this, 'MigrationTaskDefinitionArn', { value: bridge.migrationTask.taskDefinitionArn });
    const subnets = network.vpc.privateSubnets.map((s) => s.subnetId);
    new cdk.CfnOutput(this, 'MigrationCommand', {
      description: 'Run once after each deploy that brings migrations (waits for nothing; see docs/deploy.md)',
      value: cdk.Fn.join('', [
        'aws ecs run-task --launch-type FARGATE --cluster ', cluster.clusterName,
        ' --task-definition ', bridge.migrationTask.taskDefinitionArn,
        ' --network-configuration awsvpcConfiguration={subnets=[', cdk.Fn.join(',', subnets),
        '],securityGroups=[', network.bridgeSg.securityGroupId, '],assignPublicIp=DISABLED}',
      ]),
    });
  }
}
