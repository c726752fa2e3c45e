// Test helpers: placeholder function code and bridge image context in a temp dir (no cargo, no
// Docker), and a synthesized template for a stack built from default settings plus overrides.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as cdk from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { defaultSettings, EverrunsSettings } from '../lib/config';
import { EverrunsStack } from '../lib/stack';

let placeholders: string | undefined;

/** A temp dir with api/bootstrap, worker/bootstrap and bridge/Dockerfile (made once per process). */
export function placeholderAssets(): { api: string; worker: string; bridge: string } {
  if (!placeholders) {
    placeholders = fs.mkdtempSync(path.join(os.tmpdir(), 'everruns-cdk-test-'));
    for (const fn of ['api', 'worker']) {
      fs.mkdirSync(path.join(placeholders, fn));
      fs.writeFileSync(path.join(placeholders, fn, 'bootstrap'), '#!/bin/sh\necho placeholder\n', { mode: 0o755 });
    }
    fs.mkdirSync(path.join(placeholders, 'bridge'));
    fs.writeFileSync(path.join(placeholders, 'bridge', 'Dockerfile'), 'FROM scratch\n');
    const dir = placeholders;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return { api: path.join(placeholders, 'api'), worker: path.join(placeholders, 'worker'), bridge: path.join(placeholders, 'bridge') };
}

export function testSettings(overrides: Partial<EverrunsSettings> = {}): EverrunsSettings {
  const assets = placeholderAssets();
  return {
    ...defaultSettings(undefined, overrides.profile ?? 'standard'),
    apiCodePath: assets.api,
    workerCodePath: assets.worker,
    bridgeImageDir: assets.bridge,
    ...overrides,
  };
}

export function synth(overrides: Partial<EverrunsSettings> = {}): Template {
  const app = new cdk.App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'everruns-cdk-out-')) });
  try {
    return Template.fromStack(new EverrunsStack(app, 'Test', { settings: testSettings(overrides) }));
  } finally {
    fs.rmSync(app.outdir, { recursive: true, force: true });
  }
}

let defaults: Template | undefined;
let leanDefaults: Template | undefined;

/** The template of the default settings (synthesized once per test file). */
export function defaultTemplate(): Template {
  defaults ??= synth();
  return defaults;
}

/** The template of the lean profile's defaults (synthesized once per test file). */
export function leanTemplate(): Template {
  leanDefaults ??= synth({ profile: 'lean' });
  return leanDefaults;
}

/** Resources of `type` as [logicalId, properties] pairs. */
export function resources(t: Template, type: string): [string, Record<string, any>][] {
  return Object.entries(t.findResources(type)).map(([id, r]) => [id, (r as any).Properties ?? {}]);
}

/** The single resource of `type` whose properties satisfy `pick`. */
export function one(t: Template, type: string, pick: (p: Record<string, any>) => boolean = () => true): [string, Record<string, any>] {
  const found = resources(t, type).filter(([, p]) => pick(p));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0];
}
