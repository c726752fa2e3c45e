// The task queue and DLQ, the API and worker functions, their event source and environment.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Match } from 'aws-cdk-lib/assertions';
import { defaultTemplate, one, synth } from './helpers';

const api = (p: Record<string, any>) => String(p.Description).startsWith('Everruns API');
const worker = (p: Record<string, any>) => String(p.Description).startsWith('Everruns iteration worker');

test('the task queue redrives to the DLQ after maxReceiveCount receives', () => {
  const t = synth({ maxReceiveCount: 7 });
  const [, queue] = one(t, 'AWS::SQS::Queue', (p) => p.RedrivePolicy !== undefined);
  assert.equal(queue.RedrivePolicy.maxReceiveCount, 7);
  const [dlqId] = one(t, 'AWS::SQS::Queue', (p) => p.RedrivePolicy === undefined);
  assert.deepEqual(queue.RedrivePolicy.deadLetterTargetArn, { 'Fn::GetAtt': [dlqId, 'Arn'] });
});

test('the queue visibility timeout exceeds the worker function timeout', () => {
  const t = defaultTemplate();
  const [, queue] = one(t, 'AWS::SQS::Queue', (p) => p.RedrivePolicy !== undefined);
  const [, fn] = one(t, 'AWS::Lambda::Function', worker);
  assert.ok(queue.VisibilityTimeout > fn.Timeout, `${queue.VisibilityTimeout} <= ${fn.Timeout}`);
  assert.equal(queue.RedrivePolicy.maxReceiveCount, 5);
});

test('both functions run on provided.al2023 with handler bootstrap, x86_64 by default, in the VPC, traced', () => {
  const t = defaultTemplate();
  for (const pick of [api, worker]) {
    const [, fn] = one(t, 'AWS::Lambda::Function', pick);
    assert.equal(fn.Runtime, 'provided.al2023');
    assert.equal(fn.Handler, 'bootstrap');
    assert.deepEqual(fn.Architectures, ['x86_64']);
    assert.ok(fn.VpcConfig.SubnetIds.length === 2);
    assert.deepEqual(fn.TracingConfig, { Mode: 'Active' });
  }
});

test('architecture arm64 is honoured by both functions and the bridge task; X-Ray can be off', () => {
  const t = synth({ architecture: 'arm64', xrayTracing: false });
  for (const pick of [api, worker]) {
    const [, fn] = one(t, 'AWS::Lambda::Function', pick);
    assert.deepEqual(fn.Architectures, ['arm64']);
    assert.equal(fn.TracingConfig, undefined);
  }
  t.hasResourceProperties('AWS::ECS::TaskDefinition', { RuntimePlatform: { CpuArchitecture: 'ARM64' } });
});

test('the worker event source reports batch item failures with the configured batch size and concurrency', () => {
  const t = synth({ workerBatchSize: 4, workerMaxConcurrency: 20 });
  t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    BatchSize: 4,
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    ScalingConfig: { MaximumConcurrency: 20 },
  });
});

test('the API environment names the queue, the secrets by ARN, prod grade and the auth mode', () => {
  const t = defaultTemplate();
  const [, fn] = one(t, 'AWS::Lambda::Function', api);
  const env = fn.Environment.Variables;
  const [queueId] = one(t, 'AWS::SQS::Queue', (p) => p.RedrivePolicy !== undefined);
  assert.deepEqual(env.TASK_QUEUE_URL, { Ref: queueId });
  const [dbUrl] = one(t, 'AWS::SecretsManager::Secret', (p) => String(p.Description).includes('DATABASE_URL'));
  const [key] = one(t, 'AWS::SecretsManager::Secret', (p) => String(p.Description).includes('SECRETS_ENCRYPTION_KEY'));
  assert.deepEqual(env.DATABASE_URL_SECRET_ARN, { Ref: dbUrl });
  assert.deepEqual(env.SECRETS_ENCRYPTION_KEY_SECRET_ARN, { Ref: key });
  assert.equal(env.DEPLOYMENT_GRADE, 'prod');
  assert.equal(env.AUTH_MODE, 'api_key');
  assert.equal(env.API_PREFIX, '/api');
  assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, undefined);
});

test('the worker environment names the gRPC address on the internal NLB, the token secret and the lease', () => {
  const t = defaultTemplate();
  const [, fn] = one(t, 'AWS::Lambda::Function', worker);
  const env = fn.Environment.Variables;
  const [nlbId] = one(t, 'AWS::ElasticLoadBalancingV2::LoadBalancer', (p) => p.Type === 'network');
  assert.deepEqual(env.WORKER_GRPC_ADDRESS, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [nlbId, 'DNSName'] }, ':9001']] });
  const [token] = one(t, 'AWS::SecretsManager::Secret', (p) => String(p.Description).includes('WORKER_GRPC_AUTH_TOKEN'));
  assert.deepEqual(env.WORKER_GRPC_AUTH_TOKEN_SECRET_ARN, { Ref: token });
  assert.ok(env.TASK_QUEUE_URL.Ref);
  assert.equal(env.WORKER_TASK_LEASE_SECS, '30');
  assert.equal(env.SECRETS_ENCRYPTION_KEY_SECRET_ARN, undefined, 'workers never see the encryption key');
});

test('OTel settings reach every component when set', () => {
  const t = synth({ otlpEndpoint: 'http://collector:4317', otelServiceName: 'everruns', otelEnvironment: 'production' });
  for (const [pick, role] of [[api, 'api'], [worker, 'worker']] as const) {
    const [, fn] = one(t, 'AWS::Lambda::Function', pick);
    assert.equal(fn.Environment.Variables.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://collector:4317');
    assert.equal(fn.Environment.Variables.OTEL_SERVICE_NAME, `everruns-${role}`);
    assert.equal(fn.Environment.Variables.OTEL_ENVIRONMENT, 'production');
  }
  t.hasResourceProperties('AWS::ECS::TaskDefinition', {
    ContainerDefinitions: [Match.objectLike({
      Environment: Match.arrayWith([{ Name: 'OTEL_EXPORTER_OTLP_ENDPOINT', Value: 'http://collector:4317' }]),
    })],
  });
});

test('the worker role may consume (and so extend visibility on) the task queue', () => {
  const t = defaultTemplate();
  const [, fn] = one(t, 'AWS::Lambda::Function', worker);
  const role = fn.Role['Fn::GetAtt'][0];
  const [queueId] = one(t, 'AWS::SQS::Queue', (p) => p.RedrivePolicy !== undefined);
  const [, policy] = one(t, 'AWS::IAM::Policy', (p) => JSON.stringify(p.Roles) === JSON.stringify([{ Ref: role }]));
  const statement = policy.PolicyDocument.Statement.find((st: any) => JSON.stringify(st.Resource).includes(queueId));
  assert.ok(statement.Action.includes('sqs:ChangeMessageVisibility'), JSON.stringify(statement));
});

test('the API function has an IAM-authenticated Function URL by default, none when off', () => {
  defaultTemplate().hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
  synth({ apiFunctionUrl: 'off' }).resourceCountIs('AWS::Lambda::Url', 0);
});
