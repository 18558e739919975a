/**
 * `node --import tsx infra/cli/publish-image.ts`: publishes the API image (see
 * `infra/image-publish.ts`) and prints one JSON line on stdout, `{ imageRef, appVersion }`:
 * the reference by digest, which the registry's publish resource (`infra/registry.ts`) hands
 * to the task definitions, and the version baked into the image when this run built it.
 * Input: `PUBLISH_IMAGE_INPUT` (JSON: repositoryUrl, tag, platform, context, dockerfile) and
 * `AWS_REGION`. Docker's own output goes to stderr.
 */
import { ECRClient } from '@aws-sdk/client-ecr';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { publishImage, type CommandRunner, type PublishInput } from '../image-publish.js';

/** Runs a program with stderr passed through (docker's progress belongs in the deploy log). */
export const runCommand: CommandRunner = (program, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${program} ${args.slice(0, 2).join(' ')} exited with code ${code ?? 'null'}`));
    });
    child.stdin.end(options.stdin ?? '');
  });

/**
 * The commit being deployed, for the image's `APP_VERSION`: GitHub Actions' `GITHUB_SHA`, else
 * what git says HEAD is. It is not part of the image's key (the inputs' hash is), so a commit
 * that changes no build input reuses the image built by an earlier commit, and that image
 * keeps reporting the commit that built it.
 */
export async function resolveAppVersion(env: NodeJS.ProcessEnv, run: CommandRunner): Promise<string> {
  const fromCi = env.GITHUB_SHA?.trim();
  if (fromCi) return fromCi;
  return (await run('git', ['rev-parse', 'HEAD'])).trim();
}

async function main(): Promise<void> {
  const raw = process.env.PUBLISH_IMAGE_INPUT;
  if (raw === undefined) throw new Error('PUBLISH_IMAGE_INPUT is required (JSON)');
  const input = JSON.parse(raw) as Omit<PublishInput, 'appVersion'>;
  const workDir = await mkdtemp(path.join(tmpdir(), 'chapi-publish-'));
  try {
    const ecr = new ECRClient({ region: process.env.AWS_REGION });
    const result = await publishImage(
      { ecr, run: runCommand, readFile: (file) => readFile(file, 'utf8'), metadataFile: path.join(workDir, 'metadata.json') },
      { ...input, appVersion: await resolveAppVersion(process.env, runCommand) },
    );
    console.error(result.built ? `built and pushed ${result.imageRef}` : `reused ${result.imageRef} (build inputs unchanged)`);
    console.log(JSON.stringify({ imageRef: result.imageRef, appVersion: result.appVersion }));
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

// Run only as a command, not when a test imports the helpers.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
