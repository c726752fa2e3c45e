// Settings: defaults, context parsing, and bad input failing at synth with a clear message.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultSettings, problems, repoRoot, settingsFromContext } from '../lib/config';
import { placeholderAssets, synth, testSettings } from './helpers';

test('the defaults of both profiles are valid and build the functions during synth', () => {
  const root = repoRoot();
  assert.ok(fs.existsSync(path.join(root, 'Cargo.toml')) && fs.existsSync(path.join(root, 'infra', 'cdk', 'cdk.json')), root);
  for (const profile of ['standard', 'lean'] as const) {
    const s = defaultSettings(root, profile);
    assert.deepEqual(problems(s), [], profile);
    assert.equal(s.apiCodePath, undefined, 'no prebuilt code: RustFunction builds it');
    assert.equal(s.bridgeImageDir, root);
  }
  const lean = defaultSettings(root, 'lean');
  assert.equal(lean.architecture, 'arm64');
  assert.equal(lean.dbMinAcu, 0);
  assert.equal(lean.databaseIdleReleaseSecs, 300);
});

test('-c profile=lean selects the lean defaults; an unknown profile is refused', () => {
  const ctx: Record<string, string> = { profile: 'lean', dbMaxAcu: '2' };
  const s = settingsFromContext((k) => ctx[k]);
  assert.equal(s.profile, 'lean');
  assert.equal(s.architecture, 'arm64');
  assert.equal(s.dbMaxAcu, 2);
  assert.throws(() => settingsFromContext((k) => ({ profile: 'tiny' } as Record<string, string>)[k]),
    /profile must be standard or lean \(got 'tiny'\)/);
});

test('context values are coerced from strings', () => {
  const assets = placeholderAssets();
  const ctx: Record<string, string> = {
    architecture: 'arm64', workerBatchSize: '5', enableNats: 'true', apiCodePath: assets.api, otlpEndpoint: 'http://c:4317',
  };
  const s = settingsFromContext((k) => ctx[k]);
  assert.equal(s.architecture, 'arm64');
  assert.equal(s.workerBatchSize, 5);
  assert.equal(s.enableNats, true);
  assert.equal(s.apiCodePath, assets.api);
  assert.equal(s.otlpEndpoint, 'http://c:4317');
});

const bad: [string, Record<string, unknown>, RegExp][] = [
  ['architecture sparc', { architecture: 'sparc' }, /architecture must be x86_64 or arm64 \(got 'sparc'\)/],
  ['batch size 0', { workerBatchSize: 0 }, /workerBatchSize must be an integer from 1 to 10 \(got 0\)/],
  ['maxReceiveCount 0', { maxReceiveCount: 0 }, /maxReceiveCount must be an integer from 1/],
  ['max concurrency 1', { workerMaxConcurrency: 1 }, /workerMaxConcurrency must be an integer from 2/],
  ['visibility not above the worker timeout', { workerTimeoutSecs: 600, queueVisibilitySecs: 600 },
    /queueVisibilitySecs \(600\) must exceed workerTimeoutSecs \(600\)/],
  ['idle timeout not above the heartbeat', { sseHeartbeatSecs: 60, albIdleTimeoutSecs: 60 },
    /albIdleTimeoutSecs \(60\) must exceed sseHeartbeatSecs \(60\)/],
  ['malformed bootstrap key', { authBootstrapApiKey: 'secret' }, /authBootstrapApiKey must be 'evr_'/],
  ['malformed auth base URL', { authBaseUrl: 'everruns.example.com/api' }, /authBaseUrl must be an http\(s\) URL/],
  ['standard at 0 ACU (its proxy keeps the database awake)', { dbMinAcu: 0 }, /dbMinAcu\/dbMaxAcu must satisfy 0.5 <= min/],
  ['lean with an IAM function URL', { profile: 'lean', apiFunctionUrl: 'iam' }, /apiFunctionUrl must be none in the lean profile/],
  ['lean heartbeat at the CloudFront read timeout', { profile: 'lean', sseHeartbeatSecs: 60 },
    /sseHeartbeatSecs \(60\) must stay below CloudFront's 60 s origin read timeout/],
  ['lean with NATS', { profile: 'lean', enableNats: true }, /enableNats\/enableValkey need the standard profile/],
  ['lean on x86 with a Graviton bridge', { profile: 'lean', architecture: 'x86_64' }, /bridgeInstanceType t4g.micro is Graviton/],
  ['a malformed instance type', { profile: 'lean', natInstanceType: 'huge' }, /natInstanceType must be an EC2 instance type/],
  ['auto-pause under five minutes', { profile: 'lean', dbAutoPauseSecs: 60 }, /dbAutoPauseSecs must be an integer from 300/],
];
for (const [name, overrides, message] of bad) {
  test(`bad input fails at synth: ${name}`, () => {
    assert.throws(() => synth(overrides as never), (e: Error) => message.test(e.message) && /Invalid Everruns settings/.test(e.message));
  });
}

test('bad context input fails when the app reads it', () => {
  assert.throws(() => settingsFromContext((k) => (k === 'workerBatchSize' ? 'lots' : undefined)),
    /workerBatchSize must be an integer from 1 to 10 \(got NaN\)/);
});

test('missing function code names the setting and the build command', () => {
  assert.throws(() => synth({ apiCodePath: '/nonexistent/everruns-api' }),
    /apiCodePath: no bootstrap.zip or bootstrap in \/nonexistent\/everruns-api; run cargo lambda build/);
  assert.throws(() => synth({ ...testSettings(), bridgeImageDir: '/nonexistent/image' }), /bridgeImageDir: no Dockerfile nor/);
});
