// Deployment settings for the Everruns stack: the props, their defaults, validation (a bad value
// fails at synth with a message naming the setting), and reading them from CDK context.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Architecture = 'x86_64' | 'arm64';
export type AuthMode = 'none' | 'api_key';
export type FunctionUrlMode = 'off' | 'iam' | 'none';

export interface EverrunsSettings {
  /** Lambda (and bridge task) CPU architecture. Must match how `cargo lambda build` ran. */
  readonly architecture: Architecture;
  /** Directory holding `bootstrap` or `bootstrap.zip` of the API function. */
  readonly apiCodePath: string;
  /** Directory holding `bootstrap` or `bootstrap.zip` of the worker function. */
  readonly workerCodePath: string;
  /** Bridge image: a registry URI, or undefined to build `bridgeImageDir` as an image asset. */
  readonly bridgeImageUri?: string;
  /** Docker build context of the bridge image: the repository root (its multi-stage
   * functions/sse-bridge/Dockerfile compiles the bridge at deploy), or a directory with a Dockerfile. */
  readonly bridgeImageDir: string;
  readonly apiMemoryMb: number;
  readonly apiTimeoutSecs: number;
  readonly workerMemoryMb: number;
  readonly workerTimeoutSecs: number;
  /** Records per worker invocation (each record is one iteration task, run concurrently). */
  readonly workerBatchSize: number;
  /** Most concurrent worker invocations the event source starts (2..1000). */
  readonly workerMaxConcurrency: number;
  /** Task queue visibility timeout; must exceed the worker timeout. */
  readonly queueVisibilitySecs: number;
  /** Receives before a task message moves to the dead-letter queue. */
  readonly maxReceiveCount: number;
  readonly workerTaskLeaseSecs: number;
  readonly workerHeartbeatMs: number;
  readonly sseHeartbeatSecs: number;
  /** ALB idle timeout; must exceed the SSE heartbeat. */
  readonly albIdleTimeoutSecs: number;
  readonly bridgeCpu: number;
  readonly bridgeMemoryMb: number;
  readonly bridgeDesiredCount: number;
  readonly natGateways: number;
  readonly dbMinAcu: number;
  readonly dbMaxAcu: number;
  readonly authMode: AuthMode;
  /** Plain `AUTH_BOOTSTRAP_API_KEY` (`evr_...`); optional, visible in the function configuration. */
  readonly authBootstrapApiKey?: string;
  /** A Function URL on the API function besides the ALB: off, IAM-signed, or public. */
  readonly apiFunctionUrl: FunctionUrlMode;
  /** An ACM certificate for an HTTPS listener (443); without it the ALB listens on HTTP 80. */
  readonly certificateArn?: string;
  readonly enableNats: boolean;
  readonly enableValkey: boolean;
  readonly xrayTracing: boolean;
  readonly otlpEndpoint?: string;
  readonly otelServiceName?: string;
  readonly otelEnvironment?: string;
  /** During an encryption-key rotation: the ARN of the secret holding the previous key. */
  readonly previousEncryptionKeySecretArn?: string;
}

/** The repository root: the directory holding `infra/cdk` (found by walking up to Cargo.toml). */
export function repoRoot(start: string = process.cwd()): string {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'Cargo.toml')) && fs.existsSync(path.join(dir, 'infra', 'cdk'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(start, '..', '..');
    dir = parent;
  }
}

export function defaultSettings(root: string = repoRoot()): EverrunsSettings {
  return {
    architecture: 'x86_64',
    apiCodePath: path.join(root, 'target', 'lambda', 'everruns-api'),
    workerCodePath: path.join(root, 'target', 'lambda', 'everruns-task-worker'),
    bridgeImageDir: root,
    apiMemoryMb: 512,
    apiTimeoutSecs: 30,
    workerMemoryMb: 512,
    workerTimeoutSecs: 300,
    workerBatchSize: 1,
    workerMaxConcurrency: 50,
    queueVisibilitySecs: 360,
    maxReceiveCount: 5,
    workerTaskLeaseSecs: 30,
    workerHeartbeatMs: 5000,
    sseHeartbeatSecs: 30,
    albIdleTimeoutSecs: 300,
    bridgeCpu: 256,
    bridgeMemoryMb: 512,
    bridgeDesiredCount: 1,
    natGateways: 1,
    dbMinAcu: 0.5,
    dbMaxAcu: 4,
    authMode: 'api_key',
    apiFunctionUrl: 'iam',
    enableNats: false,
    enableValkey: false,
    xrayTracing: true,
  };
}

function int(name: string, value: number, min: number, max: number): string[] {
  return Number.isInteger(value) && value >= min && value <= max
    ? []
    : [`${name} must be an integer from ${min} to ${max} (got ${value})`];
}

/** Every problem with `s`, each naming the setting; empty when the settings are deployable. */
export function problems(s: EverrunsSettings): string[] {
  const out: string[] = [];
  if (s.architecture !== 'x86_64' && s.architecture !== 'arm64') {
    out.push(`architecture must be x86_64 or arm64 (got '${s.architecture}')`);
  }
  if (s.authMode !== 'none' && s.authMode !== 'api_key') out.push(`authMode must be none or api_key (got '${s.authMode}')`);
  if (!['off', 'iam', 'none'].includes(s.apiFunctionUrl)) {
    out.push(`apiFunctionUrl must be off, iam or none (got '${s.apiFunctionUrl}')`);
  }
  out.push(...int('apiMemoryMb', s.apiMemoryMb, 128, 10240), ...int('workerMemoryMb', s.workerMemoryMb, 128, 10240));
  out.push(...int('apiTimeoutSecs', s.apiTimeoutSecs, 1, 900), ...int('workerTimeoutSecs', s.workerTimeoutSecs, 1, 900));
  out.push(...int('workerBatchSize', s.workerBatchSize, 1, 10));
  out.push(...int('workerMaxConcurrency', s.workerMaxConcurrency, 2, 1000));
  out.push(...int('maxReceiveCount', s.maxReceiveCount, 1, 1000));
  out.push(...int('queueVisibilitySecs', s.queueVisibilitySecs, 0, 43200));
  if (s.queueVisibilitySecs <= s.workerTimeoutSecs) {
    out.push(`queueVisibilitySecs (${s.queueVisibilitySecs}) must exceed workerTimeoutSecs (${s.workerTimeoutSecs})`);
  }
  out.push(...int('workerTaskLeaseSecs', s.workerTaskLeaseSecs, 1, 43200), ...int('workerHeartbeatMs', s.workerHeartbeatMs, 1, 3600000));
  out.push(...int('sseHeartbeatSecs', s.sseHeartbeatSecs, 1, 3600), ...int('albIdleTimeoutSecs', s.albIdleTimeoutSecs, 1, 4000));
  if (s.albIdleTimeoutSecs <= s.sseHeartbeatSecs) {
    out.push(`albIdleTimeoutSecs (${s.albIdleTimeoutSecs}) must exceed sseHeartbeatSecs (${s.sseHeartbeatSecs})`);
  }
  out.push(...int('bridgeDesiredCount', s.bridgeDesiredCount, 1, 100), ...int('natGateways', s.natGateways, 1, 3));
  if (!(s.dbMinAcu >= 0.5 && s.dbMaxAcu >= s.dbMinAcu && s.dbMaxAcu <= 256)) {
    out.push(`dbMinAcu/dbMaxAcu must satisfy 0.5 <= min <= max <= 256 (got ${s.dbMinAcu}/${s.dbMaxAcu})`);
  }
  if (s.authBootstrapApiKey !== undefined && !/^evr_[A-Za-z0-9]{32,}$/.test(s.authBootstrapApiKey)) {
    out.push("authBootstrapApiKey must be 'evr_' followed by at least 32 letters or digits");
  }
  return out;
}

export function validate(s: EverrunsSettings): EverrunsSettings {
  const found = problems(s);
  if (found.length > 0) throw new Error(`Invalid Everruns settings:\n  - ${found.join('\n  - ')}`);
  return s;
}

/** Settings from CDK context (`-c key=value`), over the defaults; validated. */
export function settingsFromContext(get: (key: string) => unknown, root: string = repoRoot()): EverrunsSettings {
  const base = defaultSettings(root);
  const merged: Record<string, unknown> = { ...base };
  for (const [key, fallback] of Object.entries(base) as [string, unknown][]) {
    const raw = get(key);
    if (raw === undefined) continue;
    merged[key] = coerce(raw, fallback);
  }
  const optional = ['bridgeImageUri', 'authBootstrapApiKey', 'certificateArn', 'otlpEndpoint', 'otelServiceName',
    'otelEnvironment', 'previousEncryptionKeySecretArn'];
  for (const key of optional) {
    const raw = get(key);
    if (raw !== undefined && raw !== '') merged[key] = String(raw);
  }
  for (const key of ['apiCodePath', 'workerCodePath', 'bridgeImageDir']) {
    merged[key] = path.resolve(root, String(merged[key]));
  }
  // Context may also set the code paths through the environment (used by scripts/check).
  if (process.env.EVERRUNS_API_CODE && get('apiCodePath') === undefined) merged.apiCodePath = process.env.EVERRUNS_API_CODE;
  if (process.env.EVERRUNS_WORKER_CODE && get('workerCodePath') === undefined) merged.workerCodePath = process.env.EVERRUNS_WORKER_CODE;
  if (process.env.EVERRUNS_BRIDGE_IMAGE_DIR && get('bridgeImageDir') === undefined) {
    merged.bridgeImageDir = process.env.EVERRUNS_BRIDGE_IMAGE_DIR;
  }
  return validate(merged as unknown as EverrunsSettings);
}

function coerce(raw: unknown, fallback: unknown): unknown {
  if (typeof fallback === 'number') return typeof raw === 'number' ? raw : Number(raw);
  if (typeof fallback === 'boolean') return typeof raw === 'boolean' ? raw : String(raw).toLowerCase() === 'true';
  return String(raw);
}
