// PostgreSQL: Aurora Serverless v2 (min/max ACU as settings) in isolated subnets. Standard: reached
// only through an RDS Proxy. Lean: no proxy (a proxy keeps the database awake), min 0 ACU with
// auto-pause, and server-side TCP keepalives that close the connections of frozen or reaped Lambda
// environments so the cluster can pause. The generated master credentials live in a secret.
import * as cdk from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { Network } from './network';

export interface DatabaseProps {
  readonly network: Network;
  readonly minAcu: number;
  readonly maxAcu: number;
  /** Front the cluster with an RDS Proxy (standard). */
  readonly proxy: boolean;
  /** Idle time before a 0-ACU cluster pauses (used when minAcu is 0). */
  readonly autoPauseSecs: number;
}

export const DATABASE_NAME = 'everruns';

/** Keepalives that drop a silent client within ~90 s (PostgreSQL's default waits two hours). */
export const KEEPALIVE_PARAMETERS = {
  tcp_keepalives_idle: '60',
  tcp_keepalives_interval: '10',
  tcp_keepalives_count: '3',
};

export class Database extends Construct {
  readonly cluster: rds.DatabaseCluster;
  readonly proxy?: rds.DatabaseProxy;
  /** Where the application connects: the proxy, else the cluster's writer endpoint. */
  readonly endpoint: string;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const { network } = props;
    const engine = rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_6 });
    const pauses = props.minAcu === 0;
    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine,
      credentials: rds.Credentials.fromGeneratedSecret('everruns'),
      defaultDatabaseName: DATABASE_NAME,
      writer: rds.ClusterInstance.serverlessV2('writer'),
      serverlessV2MinCapacity: props.minAcu,
      serverlessV2MaxCapacity: props.maxAcu,
      serverlessV2AutoPauseDuration: pauses ? cdk.Duration.seconds(props.autoPauseSecs) : undefined,
      parameterGroup: props.proxy ? undefined : new rds.ParameterGroup(this, 'Parameters', {
        engine,
        description: 'Everruns: TCP keepalives so idle Lambda connections cannot keep the cluster awake',
        parameters: KEEPALIVE_PARAMETERS,
      }),
      vpc: network.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [network.databaseSg],
      storageEncrypted: true,
      backup: { retention: cdk.Duration.days(7) },
      deletionProtection: true,
      removalPolicy: cdk.RemovalPolicy.SNAPSHOT,
    });
    if (props.proxy) {
      this.proxy = this.cluster.addProxy('Proxy', {
        secrets: [this.cluster.secret!],
        vpc: network.vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [network.proxySg],
        requireTLS: true,
        iamAuth: false,
      });
      network.databaseSg.addIngressRule(network.proxySg, ec2.Port.tcp(5432), 'RDS Proxy to Aurora');
      network.proxySg.addIngressRule(network.apiSg, ec2.Port.tcp(5432), 'API function');
      network.proxySg.addIngressRule(network.bridgeSg, ec2.Port.tcp(5432), 'SSE bridge and migration task');
      this.endpoint = this.proxy.endpoint;
    } else {
      network.databaseSg.addIngressRule(network.apiSg, ec2.Port.tcp(5432), 'API function');
      network.databaseSg.addIngressRule(network.bridgeSg, ec2.Port.tcp(5432), 'SSE bridge (migrates at startup)');
      this.endpoint = this.cluster.clusterEndpoint.hostname;
    }
  }
}
