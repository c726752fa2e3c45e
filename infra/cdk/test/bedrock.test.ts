// Bedrock behind `bedrock=true`: the worker function's role may invoke models and the bridge seeds
// the keyless provider; nothing of it by default, and never on the API function.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { defaultSettings, problems } from '../lib/config';
import { defaultTemplate, one, resources, synth } from './helpers';

const ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'];

/** The Bedrock statements of every IAM policy, by the role(s) the policy is attached to. */
function bedrockStatements(t: ReturnType<typeof synth>): { roles: string[]; statement: any }[] {
  return resources(t, 'AWS::IAM::Policy').flatMap(([, p]) =>
    p.PolicyDocument.Statement.filter((st: any) => JSON.stringify(st.Action).includes('bedrock:'))
      .map((statement: any) => ({ roles: p.Roles.map((r: any) => r.Ref), statement })));
}

function roleOf(t: ReturnType<typeof synth>, description: string): string {
  const [, fn] = one(t, 'AWS::Lambda::Function', (p) => String(p.Description).startsWith(description));
  return fn.Role['Fn::GetAtt'][0];
}

function bridgeEnv(t: ReturnType<typeof synth>): any[] {
  const [, task] = one(t, 'AWS::ECS::TaskDefinition', (p) => p.ContainerDefinitions[0].Name === 'bridge');
  return task.ContainerDefinitions[0].Environment;
}

test('no Bedrock permission and no Bedrock seeding by default', () => {
  const t = defaultTemplate();
  assert.deepEqual(bedrockStatements(t), []);
  assert.ok(!bridgeEnv(t).some((e: any) => e.Name === 'DEFAULT_BEDROCK_REGION'));
});

test('bedrock=true: the worker role invokes models and inference profiles; the bridge seeds in the stack region', () => {
  const t = synth({ bedrock: true });
  const found = bedrockStatements(t);
  assert.equal(found.length, 1);
  const [{ roles, statement }] = found;
  assert.deepEqual(roles, [roleOf(t, 'Everruns iteration worker')]);
  assert.ok(!roles.includes(roleOf(t, 'Everruns API')));
  assert.deepEqual([...statement.Action].sort(), ACTIONS);
  assert.equal(statement.Effect, 'Allow');
  const arns = JSON.stringify(statement.Resource);
  for (const part of ['foundation-model/*', ':inference-profile/*', 'application-inference-profile/*']) {
    assert.ok(arns.includes(part), `${part} in ${arns}`);
  }
  const region = bridgeEnv(t).find((e: any) => e.Name === 'DEFAULT_BEDROCK_REGION');
  assert.deepEqual(region.Value, { Ref: 'AWS::Region' });
});

test('bedrockRegion names the region, and needs bedrock=true', () => {
  const t = synth({ bedrock: true, bedrockRegion: 'eu-central-1' });
  assert.equal(bridgeEnv(t).find((e: any) => e.Name === 'DEFAULT_BEDROCK_REGION').Value, 'eu-central-1');
  const base = defaultSettings('/repo');
  assert.ok(problems({ ...base, bedrockRegion: 'us-west-2' }).some((p) => p.includes('needs bedrock=true')));
  assert.ok(problems({ ...base, bedrock: true, bedrockRegion: 'Frankfurt' }).some((p) => p.includes('bedrockRegion must')));
});

test('bedrock=true in the lean profile: the same grant on the worker', () => {
  const t = synth({ profile: 'lean', bedrock: true });
  const found = bedrockStatements(t);
  assert.equal(found.length, 1);
  assert.deepEqual(found[0].roles, [roleOf(t, 'Everruns iteration worker')]);
});
