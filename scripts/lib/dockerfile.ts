/**
 * The root Dockerfile as data, for the tests that check it, the test that runs its build
 * steps and `npm run check:image` (what a built image must be): stages in order, each with
 * its base and its instructions, parsed by `dockerfile-ast` (the parser behind the Docker
 * language server), never by regular expressions.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileParser, type Copy, type From, type Instruction, type Property } from 'dockerfile-ast';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** One `COPY`: its sources, its destination and, with `--from`, the stage it copies from. */
export interface CopyStep {
  from: string | undefined;
  sources: string[];
  destination: string;
}

export interface Stage {
  name: string;
  /**
   * The FROM argument: an image reference or an earlier stage's name, with the global
   * `ARG`s' defaults (those before the first FROM) substituted, as a build without
   * `--build-arg` resolves it.
   */
  base: string;
  /** True when `base` is an earlier stage of this Dockerfile. */
  baseIsStage: boolean;
  from: From;
  instructions: Instruction[];
}

export interface DockerfileModel {
  /** The `ARG`s before the first FROM, with their defaults (null for none). */
  globalArgs: { name: string; value: string | null }[];
  stages: Stage[];
  stage(name: string): Stage;
}

/** Parses `Dockerfile` (default: the repository's) into stages. */
export function loadDockerfile(file: string = path.join(REPO_ROOT, 'Dockerfile')): DockerfileModel {
  const parsed = DockerfileParser.parse(readFileSync(file, 'utf8'));
  const stages: Stage[] = [];
  const globalArgs: DockerfileModel['globalArgs'] = [];
  for (const instruction of parsed.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = instruction as From;
      const base = substitute(from.getImage() ?? '', globalArgs);
      stages.push({
        name: from.getBuildStage() ?? String(stages.length),
        base,
        baseIsStage: stages.some((stage) => stage.name === base),
        from,
        instructions: [],
      });
      continue;
    }
    const current = stages.at(-1);
    if (current === undefined) {
      // Only ARG may come before the first FROM: these are what FROM lines can refer to.
      if (instruction.getKeyword() === 'ARG') globalArgs.push(...propertiesOf(instruction));
      continue;
    }
    current.instructions.push(instruction);
  }
  return {
    globalArgs,
    stages,
    stage(name) {
      const found = stages.find((stage) => stage.name === name);
      if (found === undefined) throw new Error(`the Dockerfile has no stage "${name}"`);
      return found;
    },
  };
}

/** The stage's instructions with one keyword (`RUN`, `COPY`, …). */
export function instructions(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((instruction) => instruction.getKeyword() === keyword);
}

/** The shell commands of the stage's `RUN` instructions, without their flags (`--mount=…`). */
export function runCommands(stage: Stage): string[] {
  return instructions(stage, 'RUN').map((run) => (run.getRawArgumentsContent() ?? '').replace(/\\\n\s*/g, ''));
}

/** A `RUN --mount=type=bind,from=<stage>`: another stage's folder, visible for that one step. */
export interface BindMount {
  from: string;
  source: string;
  target: string;
}

/** The bind mounts of each of the stage's `RUN` instructions (in `runCommands` order). */
export function runBindMounts(stage: Stage): BindMount[][] {
  return instructions(stage, 'RUN').map((run) =>
    (run as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] })
      .getFlags()
      .filter((flag) => flag.getName() === 'mount')
      .map((flag) => Object.fromEntries((flag.getValue() ?? '').split(',').map((pair) => pair.split('=') as [string, string])))
      .filter((options) => options.type === 'bind' && options.from !== undefined)
      .map((options) => ({ from: options.from ?? '', source: options.source ?? '/', target: options.target ?? '' })),
  );
}

/** The stage's `COPY` instructions. */
export function copySteps(stage: Stage): CopyStep[] {
  return instructions(stage, 'COPY').map((instruction) => {
    const copy = instruction as Copy;
    const args = copy.getArguments().map((argument) => argument.getValue());
    return { from: copy.getFromFlag()?.getValue() ?? undefined, sources: args.slice(0, -1), destination: args.at(-1) ?? '' };
  });
}

function propertiesOf(instruction: Instruction): { name: string; value: string | null }[] {
  return (instruction as unknown as { getProperties(): Property[] })
    .getProperties()
    .map((property) => ({ name: property.getName(), value: property.getValue() }));
}

/** `$NAME` and `${NAME}` replaced by the ARGs' defaults; an unknown or bare ARG stays as written. */
function substitute(text: string, args: DockerfileModel['globalArgs']): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const value = args.findLast((arg) => arg.name === (braced ?? bare))?.value;
    return value ?? whole;
  });
}

/** `ENV` / `ARG` properties of a stage, in order: name and raw value (null for a bare ARG). */
export function properties(stage: Stage, keyword: 'ENV' | 'ARG'): { name: string; value: string | null }[] {
  return instructions(stage, keyword).flatMap(propertiesOf);
}

/** An image reference split as a registry resolves it: `name[:tag][@digest]`. */
export interface ImageRef {
  name: string;
  tag: string | undefined;
  digest: string | undefined;
}

export function parseImageRef(reference: string): ImageRef {
  const [withoutDigest = '', digest] = reference.split('@');
  // A colon after the last slash separates the tag (one before it is a registry's port).
  const colon = withoutDigest.lastIndexOf(':');
  const hasTag = colon > withoutDigest.lastIndexOf('/');
  return {
    name: hasTag ? withoutDigest.slice(0, colon) : withoutDigest,
    tag: hasTag ? withoutDigest.slice(colon + 1) : undefined,
    digest,
  };
}

/** The exec-form array of a CMD/ENTRYPOINT, or undefined when it is shell form. */
export function execForm(instruction: Instruction): string[] | undefined {
  const content = instruction.getArgumentsContent() ?? '';
  try {
    const parsed: unknown = JSON.parse(content);
    return Array.isArray(parsed) && parsed.every((item) => typeof item === 'string') ? (parsed as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/** The stages `name` builds on, itself first (e.g. dev → deps → base). */
export function lineage(model: DockerfileModel, name: string): Stage[] {
  const chain: Stage[] = [];
  let stage: Stage | undefined = model.stage(name);
  while (stage !== undefined) {
    chain.push(stage);
    stage = stage.baseIsStage ? model.stage(stage.base) : undefined;
  }
  return chain;
}
