// The lean profile's long-lived pieces: the SSE bridge as a Docker container on one Graviton
// instance in a private subnet (systemd restarts it; the bridge migrates at startup and releases
// its database connections when idle), and the CloudFront distribution that is the public face:
// `/api/v1/sessions/*/sse` to the bridge through a VPC origin, everything else to the API
// function's URL. No load balancer, no public address on the bridge.
import * as cdk from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  bridgeEnvironment, BridgeEnvironmentProps, bridgeImageAsset, grantBridge, GRPC_PORT, HTTP_PORT, MCP_PATH, SSE_PATH,
} from './bridge';
import { CLOUDFRONT_READ_TIMEOUT_SECS } from './config';
import { amazonLinuxFor, Network } from './network';

/** The systemd unit name of the bridge container. */
export const BRIDGE_UNIT = 'everruns-bridge';

export interface BridgeInstanceProps extends BridgeEnvironmentProps {
  readonly network: Network;
}

export class BridgeInstance extends Construct {
  readonly instance: ec2.Instance;

  constructor(scope: Construct, id: string, props: BridgeInstanceProps) {
    super(scope, id);
    const { settings: s, network } = props;
    const stack = cdk.Stack.of(this);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: logs.RetentionDays.ONE_MONTH });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'Everruns SSE bridge instance: its secrets, queues, image and logs; Session Manager',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    grantBridge(role, props);
    logGroup.grantWrite(role);

    let image: string;
    if (s.bridgeImageUri) {
      image = s.bridgeImageUri;
      role.addToPolicy(new iam.PolicyStatement({
        actions: ['ecr:GetAuthorizationToken', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: ['*'],
      }));
    } else {
      const asset = bridgeImageAsset(this, 'Image', s);
      asset.repository.grantPull(role);
      image = asset.imageUri;
    }
    const registry = cdk.Fn.select(0, cdk.Fn.split('/', image));
    const environment = bridgeEnvironment(props);
    // docker --env-file takes each line raw (no quoting): ARNs, URLs and numbers need none.
    const envFile = Object.entries(environment).map(([k, v]) => `${k}=${v}`);

    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      'set -euo pipefail',
      'dnf install -y docker',
      'systemctl enable --now docker',
      "cat > /etc/everruns-bridge.env <<'ENV'",
      ...envFile,
      'ENV',
      `cat > /etc/systemd/system/${BRIDGE_UNIT}.service <<'UNIT'`,
      '[Unit]',
      'Description=Everruns SSE bridge (everruns-server)',
      'After=docker.service network-online.target',
      'Requires=docker.service',
      '[Service]',
      'Restart=always',
      'RestartSec=2',
      'TimeoutStartSec=600',
      `ExecStartPre=/bin/sh -c 'aws ecr get-login-password --region ${stack.region} | docker login --username AWS --password-stdin ${registry} || true'`,
      `ExecStartPre=-/usr/bin/docker rm -f ${BRIDGE_UNIT}`,
      `ExecStartPre=/usr/bin/docker pull ${image}`,
      `ExecStart=/usr/bin/docker run --name ${BRIDGE_UNIT} --network host --env-file /etc/everruns-bridge.env ` +
        `--log-driver awslogs --log-opt awslogs-region=${stack.region} --log-opt awslogs-group=${logGroup.logGroupName} ` +
        `--log-opt awslogs-stream=bridge ${image}`,
      // The bridge ends its SSE streams with `disconnecting` on SIGTERM; clients resume with since_id.
      `ExecStop=/usr/bin/docker stop -t 30 ${BRIDGE_UNIT}`,
      '[Install]',
      'WantedBy=multi-user.target',
      'UNIT',
      'systemctl daemon-reload',
      `systemctl enable --now ${BRIDGE_UNIT}`,
    );

    const type = new ec2.InstanceType(s.bridgeInstanceType);
    this.instance = new ec2.Instance(this, 'Instance', {
      vpc: network.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, availabilityZones: [network.vpc.availabilityZones[0]] },
      instanceType: type,
      machineImage: amazonLinuxFor(type),
      role,
      securityGroup: network.bridgeSg,
      userData,
      // A new image (or setting) replaces the instance; the worker function follows its new address.
      userDataCausesReplacement: true,
      requireImdsv2: true,
      blockDevices: [{
        deviceName: '/dev/xvda',
        volume: ec2.BlockDeviceVolume.ebs(BRIDGE_VOLUME_GB, { volumeType: ec2.EbsDeviceVolumeType.GP3, encrypted: true }),
      }],
    });
    // CloudFront's VPC origin reaches the instance from inside the VPC; the workers reach gRPC.
    network.bridgeSg.addIngressRule(ec2.Peer.ipv4(network.vpc.vpcCidrBlock), ec2.Port.tcp(HTTP_PORT), 'CloudFront VPC origin to bridge HTTP/SSE');
    network.bridgeSg.addIngressRule(network.workerSg, ec2.Port.tcp(GRPC_PORT), 'worker function gRPC');
  }

  /** host:port of the workers' gRPC service. */
  get grpcAddress(): string {
    return `${this.instance.instancePrivateIp}:${GRPC_PORT}`;
  }
}

/** The bridge's root volume (the AL2023 default size, stated so the cost model prices it). */
export const BRIDGE_VOLUME_GB = 8;

export interface EdgeProps {
  /** The API function's URL: public (`apiFunctionUrl=none`), as CloudFront cannot sign POST
   * bodies for an IAM-authenticated URL on the client's behalf; the API's own keys guard it. */
  readonly apiUrl: lambda.FunctionUrl;
  readonly bridge: BridgeInstance;
}

/** CloudFront in front of both: HTTPS on its own domain, nothing cached. */
export class Edge extends Construct {
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: EdgeProps) {
    super(scope, id);
    const readTimeout = cdk.Duration.seconds(CLOUDFRONT_READ_TIMEOUT_SECS);
    const api = new origins.FunctionUrlOrigin(props.apiUrl, { readTimeout });
    // The function URL sees its own host, not the distribution's: the viewer's host rides along
    // in X-Forwarded-Host, so OAuth's issuer and metadata name the public origin.
    const forwardHost = new cloudfront.Function(this, 'ForwardHost', {
      comment: 'Everruns: pass the viewer Host as X-Forwarded-Host',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(
        "function handler(event) { var r = event.request; if (r.headers.host) { r.headers['x-forwarded-host'] = { value: r.headers.host.value }; } return r; }",
      ),
    });
    const sse = origins.VpcOrigin.withEc2Instance(props.bridge.instance, {
      httpPort: HTTP_PORT,
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
      readTimeout,
      keepaliveTimeout: readTimeout,
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Everruns: API function and SSE bridge',
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      defaultBehavior: {
        origin: api,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        functionAssociations: [{ function: forwardHost, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
        compress: false,
      },
      additionalBehaviors: {
        [SSE_PATH]: {
          origin: sse,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER,
          // A compressing edge may hold back small SSE frames.
          compress: false,
        },
        // MCP: JSON-RPC posts whose answers may stream while a turn runs.
        [MCP_PATH]: {
          origin: sse,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER,
          compress: false,
        },
      },
    });
  }

  /** The API base URL clients use (SSE included). */
  get baseUrl(): string {
    return `https://${this.distribution.distributionDomainName}/api`;
  }
}
