// The SSE bridge on Fargate, the public ALB routing, the gRPC path, migrations and outputs.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Match } from 'aws-cdk-lib/assertions';
import { defaultTemplate, one, resources, synth } from './helpers';

const containerEnv = (t: ReturnType<typeof defaultTemplate>, name: string) => {
  const [, task] = one(t, 'AWS::ECS::TaskDefinition', (p) => p.ContainerDefinitions[0].Name === name);
  const env: Record<string, unknown> = {};
  for (const { Name, Value } of task.ContainerDefinitions[0].Environment) env[Name] = Value;
  return { task, env };
};

test('the bridge runs as a Fargate service in private subnets with deployment rollback', () => {
  const t = defaultTemplate();
  t.hasResourceProperties('AWS::ECS::Service', {
    LaunchType: 'FARGATE',
    DesiredCount: 1,
    DeploymentConfiguration: Match.objectLike({ DeploymentCircuitBreaker: { Enable: true, Rollback: true } }),
    NetworkConfiguration: { AwsvpcConfiguration: Match.objectLike({ AssignPublicIp: 'DISABLED' }) },
  });
});

test('the ALB idle timeout exceeds the SSE heartbeat, which the bridge is given', () => {
  const t = synth({ sseHeartbeatSecs: 45, albIdleTimeoutSecs: 180 });
  const [, alb] = one(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer', (p) => p.Type !== 'network');
  const idle = alb.LoadBalancerAttributes.find((a: any) => a.Key === 'idle_timeout.timeout_seconds');
  const { env } = containerEnv(t, 'bridge');
  assert.ok(Number(idle.Value) > Number(env.SSE_HEARTBEAT_INTERVAL_SECS), `${idle.Value} vs ${env.SSE_HEARTBEAT_INTERVAL_SECS}`);
  assert.equal(idle.Value, '180');
  assert.equal(alb.Scheme, 'internet-facing');
});

test('SSE paths and /mcp go to the bridge (health /health), everything else to the API function', () => {
  const t = defaultTemplate();
  const [sseTg, sse] = one(t, 'AWS::ElasticLoadBalancingV2::TargetGroup', (p) => p.Port === 9000);
  assert.equal(sse.HealthCheckPath, '/health');
  assert.equal(sse.TargetType, 'ip');
  t.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
    Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/api/v1/sessions/*/sse', '/mcp'] } }],
    Actions: [{ Type: 'forward', TargetGroupArn: { Ref: sseTg } }],
  });
  const [apiTg, apiGroup] = one(t, 'AWS::ElasticLoadBalancingV2::TargetGroup', (p) => p.TargetType === 'lambda');
  const [apiFn] = one(t, 'AWS::Lambda::Function', (p) => String(p.Description).startsWith('Everruns API'));
  assert.deepEqual(apiGroup.Targets, [{ Id: { 'Fn::GetAtt': [apiFn, 'Arn'] } }]);
  t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
    Port: 80,
    DefaultActions: [{ Type: 'forward', TargetGroupArn: { Ref: apiTg } }],
  });
});

test('with a certificate the ALB listens on HTTPS and redirects HTTP', () => {
  const t = synth({ certificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/abc' });
  t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS' });
  t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
    Port: 80, DefaultActions: [Match.objectLike({ Type: 'redirect' })],
  });
});

test('gRPC: an internal NLB on TCP 9001 that only the worker function security group may reach', () => {
  const t = defaultTemplate();
  const [, nlb] = one(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer', (p) => p.Type === 'network');
  assert.equal(nlb.Scheme, 'internal');
  t.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 9001, Protocol: 'TCP' });
  t.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { Port: 9001, Protocol: 'TCP', TargetType: 'ip' });
  const nlbSg = nlb.SecurityGroups[0]['Fn::GetAtt'][0];
  const workerSg = one(t, 'AWS::EC2::SecurityGroup', (p) => p.GroupDescription === 'Everruns worker function')[0];
  const bridgeSg = one(t, 'AWS::EC2::SecurityGroup', (p) => String(p.GroupDescription).startsWith('Everruns SSE bridge'))[0];
  const ingress = resources(t, 'AWS::EC2::SecurityGroupIngress');
  const into = (sg: string) => ingress.filter(([, p]) => p.GroupId['Fn::GetAtt'][0] === sg);
  assert.deepEqual(into(nlbSg).map(([, p]) => [p.SourceSecurityGroupId['Fn::GetAtt'][0], p.FromPort, p.ToPort]), [[workerSg, 9001, 9001]]);
  const [, nlbGroup] = one(t, 'AWS::EC2::SecurityGroup', (p) => String(p.GroupDescription).includes('gRPC'));
  assert.equal(nlbGroup.SecurityGroupIngress, undefined, 'no inline (e.g. CIDR) ingress on the gRPC balancer');
  const grpcIntoBridge = into(bridgeSg).filter(([, p]) => p.FromPort === 9001);
  assert.deepEqual(grpcIntoBridge.map(([, p]) => p.SourceSecurityGroupId['Fn::GetAtt'][0]), [nlbSg]);
});

test('the bridge gets both queues, the secrets by ARN, listen addresses and the heartbeat', () => {
  const t = defaultTemplate();
  const { env } = containerEnv(t, 'bridge');
  const [queueId] = one(t, 'AWS::SQS::Queue', (p) => p.RedrivePolicy !== undefined);
  const [dlqId] = one(t, 'AWS::SQS::Queue', (p) => p.RedrivePolicy === undefined);
  assert.deepEqual(env.TASK_QUEUE_URL, { Ref: queueId });
  assert.deepEqual(env.TASK_DLQ_URL, { Ref: dlqId });
  for (const name of ['DATABASE_URL_SECRET_ARN', 'SECRETS_ENCRYPTION_KEY_SECRET_ARN', 'WORKER_GRPC_AUTH_TOKEN_SECRET_ARN']) {
    assert.ok((env[name] as any)?.Ref, name);
  }
  assert.equal(env.HTTP_ADDR, '0.0.0.0:9000');
  assert.equal(env.WORKER_GRPC_ADDR, '0.0.0.0:9001');
  assert.equal(env.SSE_HEARTBEAT_INTERVAL_SECS, '30');
  assert.equal(env.DEPLOYMENT_GRADE, 'prod');
});

test('migrations: a task definition running `everruns-server migrate` with the same settings', () => {
  const t = defaultTemplate();
  const { task, env } = containerEnv(t, 'migrate');
  assert.deepEqual(task.ContainerDefinitions[0].Command, ['migrate']);
  assert.ok((env.DATABASE_URL_SECRET_ARN as any)?.Ref);
  assert.deepEqual(task.RequiresCompatibilities, ['FARGATE']);
});

test('outputs: API and SSE URLs, the migration task definition and command', () => {
  const t = defaultTemplate();
  for (const name of ['ApiUrl', 'SseUrl', 'MigrationTaskDefinitionArn', 'MigrationCommand', 'ClusterName', 'ApiFunctionUrl']) {
    t.hasOutput(name, {});
  }
  const out = t.toJSON().Outputs;
  assert.match(JSON.stringify(out.ApiUrl.Value), /http:\/\//);
  assert.match(JSON.stringify(out.MigrationCommand.Value), /aws ecs run-task/);
});

test('a bridge image URI replaces the image asset', () => {
  const t = synth({ bridgeImageUri: 'public.ecr.aws/example/everruns-server:1.0' });
  const [, task] = one(t, 'AWS::ECS::TaskDefinition', (p) => p.ContainerDefinitions[0].Name === 'bridge');
  assert.equal(task.ContainerDefinitions[0].Image, 'public.ecr.aws/example/everruns-server:1.0');
});

test('by default the bridge image is built from the repository by its multi-stage Dockerfile', () => {
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const path = require('node:path') as typeof import('node:path');
  const cdk = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  const { EverrunsStack } = require('../lib/stack') as typeof import('../lib/stack');
  const { repoRoot } = require('../lib/config') as typeof import('../lib/config');
  const { testSettings } = require('./helpers') as typeof import('./helpers');
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'everruns-cdk-repo-image-'));
  try {
    const app = new cdk.App({ outdir });
    new EverrunsStack(app, 'Repo', { settings: testSettings({ bridgeImageDir: repoRoot() }) });
    app.synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'Repo.assets.json'), 'utf8'));
    const images = Object.values(manifest.dockerImages ?? {}) as any[];
    assert.equal(images.length, 1, JSON.stringify(manifest.dockerImages));
    assert.equal(images[0].source.dockerFile, 'functions/sse-bridge/Dockerfile');
    // Only the sources were staged (the .dockerignore keeps target/ and node_modules out).
    const staged = path.join(outdir, images[0].source.directory);
    assert.ok(fs.existsSync(path.join(staged, 'Cargo.lock')) && fs.existsSync(path.join(staged, 'functions/sse-bridge/Dockerfile')));
    assert.ok(!fs.existsSync(path.join(staged, 'target')) && !fs.existsSync(path.join(staged, 'infra/cdk/node_modules')));
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
