#!/usr/bin/env node
// CDK app entry: reads the settings from context (`-c key=value`, see lib/config.ts) and
// defines the EverrunsStack (name overridable with -c stackName=...).
import * as cdk from 'aws-cdk-lib';
import { settingsFromContext } from '../lib/config';
import { EverrunsStack } from '../lib/stack';

const app = new cdk.App();
const settings = settingsFromContext((key) => app.node.tryGetContext(key));
const stackName = String(app.node.tryGetContext('stackName') ?? 'Everruns');
new EverrunsStack(app, stackName, {
  settings,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: 'Everruns serverless: API and worker Lambdas, SSE bridge on Fargate, Aurora behind RDS Proxy, SQS',
});
