// The VPC (public, private-with-egress and isolated subnets over two AZs) and one security group
// per component, so each ingress rule names exactly who may connect. Egress from the private
// subnets goes through NAT gateways (standard) or one Graviton NAT instance (lean).
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/** The latest Amazon Linux 2023 image for an instance type's architecture (resolved at deploy). */
export function amazonLinuxFor(type: ec2.InstanceType): ec2.IMachineImage {
  const arm = type.architecture === ec2.InstanceArchitecture.ARM_64;
  return ec2.MachineImage.latestAmazonLinux2023({ cpuType: arm ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64 });
}

export interface NetworkProps {
  readonly natGateways: number;
  /** A NAT instance of this type instead of NAT gateways (one, in the first AZ). */
  readonly natInstanceType?: string;
}

export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  readonly apiSg: ec2.SecurityGroup;
  readonly workerSg: ec2.SecurityGroup;
  readonly bridgeSg: ec2.SecurityGroup;
  readonly albSg: ec2.SecurityGroup;
  readonly grpcLbSg: ec2.SecurityGroup;
  readonly databaseSg: ec2.SecurityGroup;
  readonly proxySg: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const natType = props.natInstanceType ? new ec2.InstanceType(props.natInstanceType) : undefined;
    const natGatewayProvider = natType
      ? ec2.NatProvider.instanceV2({
        instanceType: natType,
        machineImage: amazonLinuxFor(natType),
        defaultAllowedTraffic: ec2.NatTrafficDirection.OUTBOUND_ONLY,
      })
      : undefined;
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: props.natInstanceType ? 1 : props.natGateways,
      natGatewayProvider,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
    // The NAT instance admits only traffic from inside the VPC (nothing from the internet).
    if (natGatewayProvider) {
      natGatewayProvider.connections.allowFrom(ec2.Peer.ipv4(this.vpc.vpcCidrBlock), ec2.Port.allTraffic(), 'VPC egress');
    }
    const sg = (name: string, description: string) =>
      new ec2.SecurityGroup(this, name, { vpc: this.vpc, description, allowAllOutbound: true });
    this.apiSg = sg('ApiSg', 'Everruns API function');
    this.workerSg = sg('WorkerSg', 'Everruns worker function');
    this.bridgeSg = sg('BridgeSg', 'Everruns SSE bridge tasks (and the migration task)');
    this.albSg = sg('AlbSg', 'Everruns public load balancer');
    this.grpcLbSg = sg('GrpcLbSg', 'Everruns internal gRPC load balancer: worker function only');
    this.databaseSg = sg('DatabaseSg', 'Everruns Aurora cluster: RDS Proxy only');
    this.proxySg = sg('ProxySg', 'Everruns RDS Proxy: API function and bridge');
  }
}
