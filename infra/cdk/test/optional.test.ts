// NATS and Valkey: absent by default, present (and wired into the bridge/API) behind flags.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { defaultTemplate, one, synth } from './helpers';

test('no NATS and no Valkey by default', () => {
  const t = defaultTemplate();
  t.resourceCountIs('AWS::ElastiCache::ServerlessCache', 0);
  t.resourceCountIs('AWS::ServiceDiscovery::PrivateDnsNamespace', 0);
  t.resourceCountIs('AWS::ECS::Service', 1);
  const [, task] = one(t, 'AWS::ECS::TaskDefinition', (p) => p.ContainerDefinitions[0].Name === 'bridge');
  const names = task.ContainerDefinitions[0].Environment.map((e: any) => e.Name);
  assert.ok(!names.includes('NATS_URL') && !names.includes('VALKEY_URL'));
});

test('enableNats: NATS with JetStream on Fargate, found through Cloud Map, NATS_URL on the bridge', () => {
  const t = synth({ enableNats: true });
  t.resourceCountIs('AWS::ECS::Service', 2);
  const [, nats] = one(t, 'AWS::ECS::TaskDefinition', (p) => p.ContainerDefinitions[0].Name === 'nats');
  assert.ok(nats.ContainerDefinitions[0].Command.includes('-js'));
  t.hasResourceProperties('AWS::ServiceDiscovery::PrivateDnsNamespace', { Name: 'everruns.internal' });
  const [, bridge] = one(t, 'AWS::ECS::TaskDefinition', (p) => p.ContainerDefinitions[0].Name === 'bridge');
  const env = bridge.ContainerDefinitions[0].Environment;
  assert.ok(env.some((e: any) => e.Name === 'NATS_URL' && e.Value === 'nats://nats.everruns.internal:4222'));
});

test('enableValkey: serverless Valkey, VALKEY_URL (TLS) on the bridge and the API', () => {
  const t = synth({ enableValkey: true });
  t.hasResourceProperties('AWS::ElastiCache::ServerlessCache', { Engine: 'valkey' });
  const [, bridge] = one(t, 'AWS::ECS::TaskDefinition', (p) => p.ContainerDefinitions[0].Name === 'bridge');
  const url = bridge.ContainerDefinitions[0].Environment.find((e: any) => e.Name === 'VALKEY_URL');
  assert.match(JSON.stringify(url.Value), /rediss:\/\//);
  const [, api] = one(t, 'AWS::Lambda::Function', (p) => String(p.Description).startsWith('Everruns API'));
  assert.deepEqual(api.Environment.Variables.VALKEY_URL, url.Value);
});
