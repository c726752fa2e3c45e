// VPC, Aurora Serverless v2 behind RDS Proxy, and who may reach the database.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Match } from 'aws-cdk-lib/assertions';
import { defaultTemplate, one, resources } from './helpers';

test('a VPC over two AZs with public, private-with-egress and isolated subnets and one NAT gateway', () => {
  const t = defaultTemplate();
  t.resourceCountIs('AWS::EC2::VPC', 1);
  t.resourceCountIs('AWS::EC2::Subnet', 6);
  t.resourceCountIs('AWS::EC2::NatGateway', 1);
});

test('Aurora PostgreSQL Serverless v2 in isolated subnets, encrypted, with the ACU range of the settings', () => {
  const t = defaultTemplate();
  t.hasResourceProperties('AWS::RDS::DBCluster', {
    Engine: 'aurora-postgresql',
    DatabaseName: 'everruns',
    StorageEncrypted: true,
    DeletionProtection: true,
    ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
  });
  t.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless' });
  t.hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Snapshot' });
});

test('an RDS Proxy requiring TLS, using the generated database credentials', () => {
  const t = defaultTemplate();
  t.hasResourceProperties('AWS::RDS::DBProxy', {
    EngineFamily: 'POSTGRESQL',
    RequireTLS: true,
    Auth: [Match.objectLike({ AuthScheme: 'SECRETS', SecretArn: Match.anyValue() })],
  });
  t.resourceCountIs('AWS::RDS::DBProxyTargetGroup', 1);
});

test('only the proxy reaches the cluster; only the API function and the bridge reach the proxy', () => {
  const t = defaultTemplate();
  const sgId = (name: string) => one(t, 'AWS::EC2::SecurityGroup', (p) => p.GroupDescription?.startsWith(name))[0];
  const sources = (group: string) =>
    resources(t, 'AWS::EC2::SecurityGroupIngress')
      .filter(([, p]) => p.GroupId?.['Fn::GetAtt']?.[0] === sgId(group))
      .map(([, p]) => p.SourceSecurityGroupId?.['Fn::GetAtt']?.[0]);
  assert.deepEqual(new Set(sources('Everruns Aurora')), new Set([sgId('Everruns RDS Proxy')]));
  assert.deepEqual(new Set(sources('Everruns RDS Proxy')),
    new Set([sgId('Everruns API function'), sgId('Everruns SSE bridge')]));
});
