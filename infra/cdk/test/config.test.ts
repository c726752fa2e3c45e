// Settings: defaults, context parsing, and bad input failing at synth with a clear message.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultSettings, problems, repoRoot, settingsFromContext } from '../lib/config';
import { placeholderAssets, synth, testSettings } from './helpers';

test('the defaults are valid and point at cargo lambda output under the repository root', () => {
  const root = repoRoot();
  assert.ok(fs.existsSync(path.join(root, 'Cargo.toml')) && fs.existsSync(path.join(root, 'infra', 'cdk', 'cdk.json')), root);
  const s = defaultSettings(root);
  assert.deepEqual(problems(s), []);
  assert.equal(s.apiCodePath, path.join(root, 'target', 'lambda', 'everruns-api'));
  assert.equal(s.workerCodePath, path.join(root, 'target', 'lambda', 'everruns-task-worker'));
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
