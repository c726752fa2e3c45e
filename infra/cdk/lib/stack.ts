// The Everruns serverless stack: wires network, database, secrets, queue, functions, bridge and
// the optional services together, and exports the URLs and the migration command.
import * as cdk from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { Bridge, LoadBalancers } from './bridge';
import { EverrunsSettings, validate } from './config';
import { Database } from './database';
import { Functions } from './functions';
import { Network } from './network';
import { Nats, Valkey } from './optional';
import { TaskQueue } from './queue';
import { Secrets } from './secrets';

export interface EverrunsStackProps extends cdk.StackProps {
  readonly settings: EverrunsSettings;
}

export class EverrunsStack extends cdk.Stack {
  constructor(scope: Construct, id: string, props: EverrunsStackProps) {
    super(scope, id, props);
    const settings = validate(props.settings);
    const network = new Network(this, 'Network', { natGateways: settings.natGateways });
    const database = new Database(this, 'Database', { network, minAcu: settings.dbMinAcu, maxAcu: settings.dbMaxAcu });
    const secrets = new Secrets(this, 'Secrets', { databaseSecret: database.cluster.secret!, proxy: database.proxy });
    const queue = new TaskQueue(this, 'Queue', {
      visibilitySecs: settings.queueVisibilitySecs,
      maxReceiveCount: settings.maxReceiveCount,
    });
    const valkey = settings.enableValkey ? new Valkey(this, 'Valkey', { network }) : undefined;
    const previousEncryptionKey = settings.previousEncryptionKeySecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'PreviousEncryptionKey', settings.previousEncryptionKeySecretArn)
      : undefined;
    const balancers = new LoadBalancers(this, 'Balancers', { network, settings });
    const functions = new Functions(this, 'Functions', {
      settings,
      network,
      queue,
      databaseUrl: secrets.databaseUrl,
      encryptionKey: secrets.encryptionKey,
      grpcToken: secrets.grpcToken,
      grpcAddress: balancers.grpcAddress,
      valkeyUrl: valkey?.url,
      previousEncryptionKey,
    });
    functions.api.node.addDependency(secrets.kekReady);
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc: network.vpc });
    const nats = settings.enableNats ? new Nats(this, 'Nats', { network, cluster }) : undefined;
    const bridge = new Bridge(this, 'Bridge', {
      settings,
      network,
      balancers,
      cluster,
      queue,
      api: functions.api,
      databaseUrl: secrets.databaseUrl,
      encryptionKey: secrets.encryptionKey,
      grpcToken: secrets.grpcToken,
      previousEncryptionKey,
      valkeyUrl: valkey?.url,
      natsUrl: nats?.url,
    });
    bridge.service.node.addDependency(secrets.kekReady);

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
    new cdk.CfnOutput(this, 'TaskQueueUrl', { value: queue.queue.queueUrl });
    new cdk.CfnOutput(this, 'EncryptionKeySecretArn', { value: secrets.encryptionKey.secretArn });
  }
}
