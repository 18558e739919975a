/**
 * The Pulumi program (Pulumi.yaml `main`): reads the stack's config, hashes what the deploy
 * ships, declares the stack (`infra/program.ts`) and exports what operators need.
 *
 * Run by the Pulumi CLI through Node with tsx (`runtime.options.nodeargs` in Pulumi.yaml):
 * the repository is ESM TypeScript, which Pulumi's built-in ts-node path does not load.
 */
import * as pulumi from '@pulumi/pulumi';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInputsHash, migrationsHash } from './build-inputs.js';
import { loadDatabaseUrls, loadStackConfig, NAMESPACE } from './config.js';
import { createChapi } from './program.js';

/** The repository root: the Docker build context and the home of `migrations/`. */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const outputs = createChapi({
  config: loadStackConfig(),
  databaseUrls: loadDatabaseUrls(new pulumi.Config(NAMESPACE)),
  buildInputsHash: buildInputsHash(ROOT),
  migrationsHash: migrationsHash(path.join(ROOT, 'migrations')),
  stack: pulumi.getStack(),
});

/** `https://chapi.gamificator.click` */
export const url = outputs.url;
export const albDnsName = outputs.albDnsName;
export const clusterName = outputs.clusterName;
export const serviceName = outputs.serviceName;
export const repositoryUrl = outputs.repositoryUrl;
/** The image the service runs, by digest. */
export const imageRef = outputs.imageRef;
/** The commit the image reports on `/health` (the deploy's smoke test waits for it); empty if unknown. */
export const appVersion = outputs.appVersion;
export const logGroup = outputs.logGroup;
export const alarmTopicArn = outputs.alarmTopicArn;
export const secretArns = outputs.secretArns;
/** The deploy's smoke test reads its key here (deploy.yml): the secret's ARN and its JSON key. */
export const smokeKeySecretArn = outputs.smokeKey.secretArn;
export const smokeKeyJsonKey = outputs.smokeKey.jsonKey;
