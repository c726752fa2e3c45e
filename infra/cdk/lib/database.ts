// PostgreSQL: Aurora Serverless v2 (min/max ACU as settings) in isolated subnets, reached only
// through an RDS Proxy. The generated master credentials live in a Secrets Manager secret.
import * as cdk from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { Network } from './network';

export interface DatabaseProps {
  readonly network: Network;
  readonly minAcu: number;
  readonly maxAcu: number;
}

export const DATABASE_NAME = 'everruns';

export class Database extends Construct {
  readonly cluster: rds.DatabaseCluster;
  readonly proxy: rds.DatabaseProxy;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const { network } = props;
    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_6 }),
      credentials: rds.Credentials.fromGeneratedSecret('everruns'),
      defaultDatabaseName: DATABASE_NAME,
      writer: rds.ClusterInstance.serverlessV2('writer'),
      serverlessV2MinCapacity: props.minAcu,
      serverlessV2MaxCapacity: props.maxAcu,
      vpc: network.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [network.databaseSg],
      storageEncrypted: true,
      backup: { retention: cdk.Duration.days(7) },
      deletionProtection: true,
      removalPolicy: cdk.RemovalPolicy.SNAPSHOT,
    });
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
  }
}
