// Secrets: the kek-v1 encryption key written once by a custom resource, the gRPC token, and the
// application's database credentials pointing at the RDS Proxy.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Match } from 'aws-cdk-lib/assertions';
import { defaultTemplate, one, resources } from './helpers';

test('the encryption key secret is retained and filled by the Custom::EverrunsKek resource', () => {
  const t = defaultTemplate();
  const [keyId] = one(t, 'AWS::SecretsManager::Secret', (p) => String(p.Description).includes('SECRETS_ENCRYPTION_KEY'));
  t.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ Description: Match.stringLikeRegexp('SECRETS_ENCRYPTION_KEY') }) });
  const [, kek] = one(t, 'Custom::EverrunsKek');
  assert.deepEqual(kek.SecretArn, { Ref: keyId });
});

test('the kek generator writes kek-v1 + base64 of 32 random bytes, only on create or a new secret', () => {
  const t = defaultTemplate();
  const [, fn] = one(t, 'AWS::Lambda::Function', (p) => typeof p.Code?.ZipFile === 'string' && p.Code.ZipFile.includes('kek-v1'));
  const code: string = fn.Code.ZipFile;
  assert.match(code, /'kek-v1:' \+ crypto\.randomBytes\(32\)\.toString\('base64'\)/);
  assert.match(code, /RequestType === 'Create'/);
  assert.match(code, /previous !== arn/);
  assert.equal(fn.Runtime, 'nodejs22.x');
});

test('the kek generator handler, run against a fake client, writes a valid key once', async () => {
  const t = defaultTemplate();
  const [, fn] = one(t, 'AWS::Lambda::Function', (p) => typeof p.Code?.ZipFile === 'string' && p.Code.ZipFile.includes('kek-v1'));
  const writes: { SecretId: string; SecretString: string }[] = [];
  const fakeSdk = {
    SecretsManagerClient: class { async send(cmd: { input: any }) { writes.push(cmd.input); } },
    PutSecretValueCommand: class { constructor(public input: any) {} },
  };
  const module = { exports: {} as any };
  const load = new Function('require', 'module', 'exports', fn.Code.ZipFile);
  load((name: string) => (name === 'crypto' ? require('node:crypto') : fakeSdk), module, module.exports);
  const handler = module.exports.handler;
  await handler({ RequestType: 'Create', ResourceProperties: { SecretArn: 'arn:a' } });
  await handler({ RequestType: 'Update', ResourceProperties: { SecretArn: 'arn:a' }, OldResourceProperties: { SecretArn: 'arn:a' } });
  await handler({ RequestType: 'Delete', ResourceProperties: { SecretArn: 'arn:a' } });
  assert.equal(writes.length, 1);
  assert.equal(writes[0].SecretId, 'arn:a');
  assert.match(writes[0].SecretString, /^kek-v1:[A-Za-z0-9+/]{43}=$/);
  assert.equal(Buffer.from(writes[0].SecretString.slice(7), 'base64').length, 32);
});

test('the generator may only put the key secret value', () => {
  const t = defaultTemplate();
  const [keyId] = one(t, 'AWS::SecretsManager::Secret', (p) => String(p.Description).includes('SECRETS_ENCRYPTION_KEY'));
  t.hasResourceProperties('AWS::IAM::Policy', {
    PolicyDocument: { Statement: [{ Action: 'secretsmanager:PutSecretValue', Effect: 'Allow', Resource: { Ref: keyId } }] },
  });
});

test('a generated worker gRPC token and database credentials whose host is the RDS Proxy', () => {
  const t = defaultTemplate();
  t.hasResourceProperties('AWS::SecretsManager::Secret', {
    Description: Match.stringLikeRegexp('WORKER_GRPC_AUTH_TOKEN'),
    GenerateSecretString: Match.objectLike({ PasswordLength: 48 }),
  });
  const [, url] = one(t, 'AWS::SecretsManager::Secret', (p) => String(p.Description).includes('DATABASE_URL'));
  const text = JSON.stringify(url.SecretString);
  const [proxyId] = one(t, 'AWS::RDS::DBProxy');
  assert.ok(text.includes(proxyId) && text.includes('Endpoint'), text);
  assert.ok(text.includes('resolve:secretsmanager') && text.includes('password'), text);
  assert.equal(resources(t, 'AWS::RDS::DBCluster').length, 1);
});
