// The lean profile's template: no proxy, load balancer, NAT gateway or Fargate service; Aurora at
// 0 ACU with auto-pause and keepalives; the bridge container on a private Graviton instance that
// releases its database connections when idle; CloudFront routing SSE to it and the rest to the
// API function's URL; arm64 functions whose worker dials the instance's private address.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Match } from 'aws-cdk-lib/assertions';
import { leanTemplate, one, resources } from './helpers';

const userData = (p: Record<string, any>): string => JSON.stringify(p.UserData);

test('lean has none of the fixed-price plumbing', () => {
  const t = leanTemplate();
  for (const type of ['AWS::RDS::DBProxy', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::EC2::NatGateway',
    'AWS::ECS::Service', 'AWS::EC2::EIP']) {
    assert.equal(resources(t, type).length, 0, type);
  }
});

test('Aurora pauses at 0 ACU, and its keepalives close silent clients', () => {
  const t = leanTemplate();
  t.hasResourceProperties('AWS::RDS::DBCluster', {
    ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 4, SecondsUntilAutoPause: 300 },
  });
  t.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
    Parameters: { tcp_keepalives_idle: '60', tcp_keepalives_interval: '10', tcp_keepalives_count: '3' },
  });
  // The API function and the bridge reach the cluster directly.
  const ingress = resources(t, 'AWS::EC2::SecurityGroupIngress').filter(([, p]) => p.FromPort === 5432);
  assert.equal(ingress.length, 2);
});

test('one NAT instance (Graviton, outbound only) carries the egress', () => {
  const [, nat] = one(leanTemplate(), 'AWS::EC2::Instance', (p) => p.SourceDestCheck === false);
  assert.equal(nat.InstanceType, 't4g.nano');
  assert.match(JSON.stringify(nat.ImageId), /arm64/);
});

test('the bridge runs on a private Graviton instance and releases its database when idle', () => {
  const t = leanTemplate();
  const [, bridge] = one(t, 'AWS::EC2::Instance', (p) => p.SourceDestCheck !== false);
  assert.equal(bridge.InstanceType, 't4g.micro');
  assert.match(JSON.stringify(bridge.SubnetId), /privateSubnet/);
  const script = userData(bridge);
  for (const line of ['DATABASE_IDLE_RELEASE_SECS=300', 'SSE_HEARTBEAT_INTERVAL_SECS=20', 'HTTP_ADDR=0.0.0.0:9000',
    'WORKER_GRPC_ADDR=0.0.0.0:9001', 'Restart=always', 'docker run --name everruns-bridge --network host']) {
    assert.ok(script.includes(line), line);
  }
  t.hasResourceProperties('AWS::IAM::Role', {
    AssumeRolePolicyDocument: Match.objectLike({
      Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })]),
    }),
  });
});

test('CloudFront sends SSE and /mcp to the bridge through a VPC origin and the rest to the function URL', () => {
  const t = leanTemplate();
  t.resourceCountIs('AWS::CloudFront::VpcOrigin', 1);
  t.hasResourceProperties('AWS::CloudFront::VpcOrigin', {
    VpcOriginEndpointConfig: Match.objectLike({ HTTPPort: 9000, OriginProtocolPolicy: 'http-only' }),
  });
  const [, dist] = one(t, 'AWS::CloudFront::Distribution');
  const config = dist.DistributionConfig;
  assert.deepEqual(config.CacheBehaviors.map((b: any) => b.PathPattern), ['/api/v1/sessions/*/sse', '/mcp']);
  for (const behavior of config.CacheBehaviors) assert.equal(behavior.Compress, false);
  assert.deepEqual(config.CacheBehaviors[1].AllowedMethods.length, 7, 'MCP posts');
  // The function URL learns the public host from X-Forwarded-Host (OAuth's issuer).
  assert.equal(config.DefaultCacheBehavior.FunctionAssociations[0].EventType, 'viewer-request');
  const [, fn] = one(t, 'AWS::CloudFront::Function');
  assert.match(fn.FunctionCode, /x-forwarded-host/);
  assert.equal(config.DefaultCacheBehavior.ViewerProtocolPolicy, 'https-only');
  for (const origin of config.Origins) {
    assert.equal((origin.CustomOriginConfig ?? origin.VpcOriginConfig).OriginReadTimeout, 60, 'heartbeat 20 s < 60 s');
  }
  t.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
});

test('the functions are arm64, and the worker dials the bridge instance over gRPC', () => {
  const t = leanTemplate();
  const functions = resources(t, 'AWS::Lambda::Function').filter(([, p]) => p.Runtime === 'provided.al2023');
  assert.equal(functions.length, 2);
  for (const [, p] of functions) assert.deepEqual(p.Architectures, ['arm64']);
  const [, worker] = one(t, 'AWS::Lambda::Function', (p) => p.Environment?.Variables?.WORKER_GRPC_ADDRESS !== undefined);
  assert.match(JSON.stringify(worker.Environment.Variables.WORKER_GRPC_ADDRESS), /PrivateIp.*:9001/);
  assert.equal(worker.Environment.Variables.DATABASE_URL_SECRET_ARN, undefined, 'the worker holds no database credentials');
});
