/**
 * The bootstrap program (infra/bootstrap/Pulumi.yaml `main`), run once per AWS account by an
 * administrator: see infra/README.md, "First deploy". Its outputs are what Pulumi.prod.yaml and
 * the workflows need.
 *
 * The region and hosted zone come from the prod stack's settings and the permissions from its
 * committed plan, so the bootstrap never restates what the prod stack already says.
 */
import * as pulumi from '@pulumi/pulumi';
import { fileURLToPath } from 'node:url';
import { stackConfigValues } from '../plan.js';
import { createBootstrap } from './bootstrap.js';
import { readPlan } from './policy.js';

const PROD_STACK_FILE = fileURLToPath(new URL('../../Pulumi.prod.yaml', import.meta.url));
const prod = stackConfigValues(PROD_STACK_FILE);
const config = new pulumi.Config();

const fromProd = (key: string): string => {
  const value = prod[key];
  if (value === undefined || value === '') throw new Error(`Pulumi.prod.yaml has no ${key}: the bootstrap takes it from there`);
  return value;
};

const outputs = createBootstrap({
  githubRepository: config.require('githubRepository'),
  region: fromProd('aws:region'),
  zone: fromProd('chapi:zone'),
  plan: readPlan(),
});

/** Repository variable PULUMI_BACKEND_URL. */
export const backendUrl = outputs.backendUrl;
export const stateBucket = outputs.stateBucket;
/** Pulumi.prod.yaml `secretsprovider`. */
export const secretsProvider = outputs.secretsProvider;
export const kmsKeyArn = outputs.kmsKeyArn;
export const oidcProviderArn = outputs.oidcProviderArn;
/** Repository variable AWS_DEPLOY_ROLE_ARN. */
export const deployRoleArn = outputs.deployRoleArn;
/** Repository variable AWS_PREVIEW_ROLE_ARN. */
export const previewRoleArn = outputs.previewRoleArn;
