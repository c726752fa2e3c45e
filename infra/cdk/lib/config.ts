// Deployment settings for the Everruns stack: the props, their defaults, validation (a bad value
// fails at synth with a message naming the setting), and reading them from CDK context.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Architecture = 'x86_64' | 'arm64';
export type AuthMode = 'none' | 'api_key';
export type FunctionUrlMode = 'off' | 'iam' | 'none';
/** `standard`: ALB, NLB, NAT gateway, RDS Proxy, Fargate bridge. `lean`: pay-per-turn hosting
 * (CloudFront, a NAT instance, Aurora that pauses, the bridge on a Graviton instance). */
export type Profile = 'standard' | 'lean';
export const PROFILES: Profile[] = ['standard', 'lean'];

export interface EverrunsSettings {
  /** Which shape of the stack (see {@link Profile}); other defaults follow it. */
  readonly profile: Profile;
  /** Lambda (and bridge) CPU architecture. */
  readonly architecture: Architecture;
  /** A prebuilt API function: a directory holding `bootstrap` or `bootstrap.zip`. Unset: the
   * synth builds it with `cargo lambda build --release` (cargo-lambda-cdk's RustFunction). */
  readonly apiCodePath?: string;
  /** A prebuilt worker function, like {@link apiCodePath}. */
  readonly workerCodePath?: string;
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
  /** lean: the instance type of the bridge (Graviton). */
  readonly bridgeInstanceType: string;
  /** lean: the instance type of the NAT instance (Graviton). */
  readonly natInstanceType: string;
  readonly dbMinAcu: number;
  readonly dbMaxAcu: number;
  /** lean: idle seconds before Aurora pauses at 0 ACU (300..86400). */
  readonly dbAutoPauseSecs: number;
  /** The bridge's `DATABASE_IDLE_RELEASE_SECS` (0: never release; lean: 300, so Aurora can pause). */
  readonly databaseIdleReleaseSecs: number;
  readonly authMode: AuthMode;
  /** Plain `AUTH_BOOTSTRAP_API_KEY` (`evr_...`); optional, visible in the function configuration. */
  readonly authBootstrapApiKey?: string;
  /** `AUTH_BASE_URL`: the public API URL with its prefix (`https://everruns.example.com/api`), when
   * a custom domain fronts the stack; OAuth's issuer is its origin. Unset: each request's host. */
  readonly authBaseUrl?: string;
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
  /** AWS Bedrock (`-c bedrock=true`): the worker function's role may invoke Bedrock models
   * (foundation models and inference profiles), and the bridge seeds a keyless `AWS Bedrock`
   * provider whose turns the worker's role signs (`DEFAULT_BEDROCK_REGION`). */
  readonly bedrock: boolean;
  /** The Bedrock region (`DEFAULT_BEDROCK_REGION`); unset: the stack's region. */
  readonly bedrockRegion?: string;
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

export function defaultSettings(root: string = repoRoot(), profile: Profile = 'standard'): EverrunsSettings {
  const standard: EverrunsSettings = {
    profile: 'standard',
    architecture: 'x86_64',
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
    bridgeInstanceType: 't4g.micro',
    natInstanceType: 't4g.nano',
    dbMinAcu: 0.5,
    dbMaxAcu: 4,
    dbAutoPauseSecs: 300,
    databaseIdleReleaseSecs: 0,
    authMode: 'api_key',
    apiFunctionUrl: 'iam',
    enableNats: false,
    enableValkey: false,
    xrayTracing: true,
    bedrock: false,
  };
  if (profile !== 'lean') return standard;
  return {
    ...standard,
    profile: 'lean',
    // Graviton everywhere: Lambda GB-seconds and instance hours are ~20 % cheaper.
    architecture: 'arm64',
    // CloudFront cuts an origin that sends nothing for its 60 s read timeout.
    sseHeartbeatSecs: 20,
    dbMinAcu: 0,
    databaseIdleReleaseSecs: 300,
    // The API is a CloudFront origin: a public Function URL, guarded by the API's own keys.
    apiFunctionUrl: 'none',
    // A paid trace per request does not belong in pay-per-turn hosting; opt in with xrayTracing=true.
    xrayTracing: false,
  };
}

/** CloudFront's origin read timeout (its default maximum): the lean SSE heartbeat stays below it. */
export const CLOUDFRONT_READ_TIMEOUT_SECS = 60;

function int(name: string, value: number, min: number, max: number): string[] {
  return Number.isInteger(value) && value >= min && value <= max
    ? []
    : [`${name} must be an integer from ${min} to ${max} (got ${value})`];
}

/** Every problem with `s`, each naming the setting; empty when the settings are deployable. */
export function problems(s: EverrunsSettings): string[] {
  const out: string[] = [];
  if (!PROFILES.includes(s.profile)) out.push(`profile must be standard or lean (got '${s.profile}')`);
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
  // 0 ACU pauses the database; an RDS Proxy (standard) keeps it awake, so standard starts at 0.5.
  const floor = s.profile === 'lean' ? 0 : 0.5;
  if (!(s.dbMinAcu >= floor && s.dbMaxAcu >= s.dbMinAcu && s.dbMaxAcu <= 256 && s.dbMaxAcu >= 1)) {
    out.push(`dbMinAcu/dbMaxAcu must satisfy ${floor} <= min <= max <= 256 and max >= 1 (got ${s.dbMinAcu}/${s.dbMaxAcu})`);
  }
  out.push(...int('dbAutoPauseSecs', s.dbAutoPauseSecs, 300, 86400));
  out.push(...int('databaseIdleReleaseSecs', s.databaseIdleReleaseSecs, 0, 86400));
  for (const [name, type] of [['bridgeInstanceType', s.bridgeInstanceType], ['natInstanceType', s.natInstanceType]]) {
    if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(type)) out.push(`${name} must be an EC2 instance type like t4g.micro (got '${type}')`);
  }
  if (s.profile === 'lean') {
    if (s.apiFunctionUrl !== 'none') {
      out.push(`apiFunctionUrl must be none in the lean profile: CloudFront forwards requests to a public Function URL ` +
        `(the API's own keys guard it; got '${s.apiFunctionUrl}')`);
    }
    if (s.sseHeartbeatSecs >= CLOUDFRONT_READ_TIMEOUT_SECS) {
      out.push(`sseHeartbeatSecs (${s.sseHeartbeatSecs}) must stay below CloudFront's ${CLOUDFRONT_READ_TIMEOUT_SECS} s origin read timeout`);
    }
    if (s.certificateArn) out.push('certificateArn belongs to the standard profile\'s ALB; the lean profile serves HTTPS from CloudFront');
    if (s.enableNats || s.enableValkey) out.push('enableNats/enableValkey need the standard profile (one bridge needs neither)');
  }
  if (s.architecture === 'x86_64' && s.profile === 'lean' && /^[a-z]+\d+g/.test(s.bridgeInstanceType)) {
    out.push(`bridgeInstanceType ${s.bridgeInstanceType} is Graviton (arm64): set architecture=arm64 or pick an x86 type`);
  }
  if (s.bedrockRegion !== undefined) {
    if (!s.bedrock) out.push('bedrockRegion needs bedrock=true');
    if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(s.bedrockRegion)) {
      out.push(`bedrockRegion must be an AWS region like us-east-1 (got '${s.bedrockRegion}')`);
    }
  }
  if (s.authBootstrapApiKey !== undefined && !/^evr_[A-Za-z0-9]{32,}$/.test(s.authBootstrapApiKey)) {
    out.push("authBootstrapApiKey must be 'evr_' followed by at least 32 letters or digits");
  }
  if (s.authBaseUrl !== undefined && !/^https?:\/\/[^/?#@\s]+(\/[^?#\s]*)?$/.test(s.authBaseUrl)) {
    out.push(`authBaseUrl must be an http(s) URL like https://everruns.example.com/api (got '${s.authBaseUrl}')`);
  }
  return out;
}

export function validate(s: EverrunsSettings): EverrunsSettings {
  const found = problems(s);
  if (found.length > 0) throw new Error(`Invalid Everruns settings:\n  - ${found.join('\n  - ')}`);
  return s;
}

/** Settings from CDK context (`-c key=value`), over the defaults of `-c profile=...`; validated. */
export function settingsFromContext(get: (key: string) => unknown, root: string = repoRoot()): EverrunsSettings {
  const profile = String(get('profile') ?? 'standard') as Profile;
  if (!PROFILES.includes(profile)) throw new Error(`Invalid Everruns settings:\n  - profile must be standard or lean (got '${profile}')`);
  const base = defaultSettings(root, profile);
  const merged: Record<string, unknown> = { ...base };
  for (const [key, fallback] of Object.entries(base) as [string, unknown][]) {
    const raw = get(key);
    if (raw === undefined || key === 'profile') continue;
    merged[key] = coerce(raw, fallback);
  }
  const optional = ['apiCodePath', 'workerCodePath', 'bridgeImageUri', 'authBootstrapApiKey', 'authBaseUrl', 'certificateArn',
    'otlpEndpoint', 'otelServiceName', 'otelEnvironment', 'previousEncryptionKeySecretArn', 'bedrockRegion'];
  for (const key of optional) {
    const raw = get(key);
    if (raw !== undefined && raw !== '') merged[key] = String(raw);
  }
  // Prebuilt code may also come through the environment (used by scripts/check).
  if (process.env.EVERRUNS_API_CODE && merged.apiCodePath === undefined) merged.apiCodePath = process.env.EVERRUNS_API_CODE;
  if (process.env.EVERRUNS_WORKER_CODE && merged.workerCodePath === undefined) merged.workerCodePath = process.env.EVERRUNS_WORKER_CODE;
  if (process.env.EVERRUNS_BRIDGE_IMAGE_DIR && get('bridgeImageDir') === undefined) {
    merged.bridgeImageDir = process.env.EVERRUNS_BRIDGE_IMAGE_DIR;
  }
  for (const key of ['apiCodePath', 'workerCodePath', 'bridgeImageDir']) {
    if (merged[key] !== undefined) merged[key] = path.resolve(root, String(merged[key]));
  }
  return validate(merged as unknown as EverrunsSettings);
}

function coerce(raw: unknown, fallback: unknown): unknown {
  if (typeof fallback === 'number') return typeof raw === 'number' ? raw : Number(raw);
  if (typeof fallback === 'boolean') return typeof raw === 'boolean' ? raw : String(raw).toLowerCase() === 'true';
  return String(raw);
}
