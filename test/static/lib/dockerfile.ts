/**
 * The root Dockerfile as data, for the tests that check it and the test that runs its build
 * steps: stages in order, each with its base and its instructions, parsed by `dockerfile-ast`
 * (the parser behind the Docker language server), never by regular expressions.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DockerfileParser, type Copy, type From, type Instruction, type Property } from 'dockerfile-ast';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

/** One `COPY`: its sources, its destination and, with `--from`, the stage it copies from. */
export interface CopyStep {
  from: string | undefined;
  sources: string[];
  destination: string;
}

export interface Stage {
  name: string;
  /** The FROM argument: an image reference or an earlier stage's name. */
  base: string;
  /** True when `base` is an earlier stage of this Dockerfile. */
  baseIsStage: boolean;
  from: From;
  instructions: Instruction[];
}

export interface DockerfileModel {
  stages: Stage[];
  stage(name: string): Stage;
}

/** Parses `Dockerfile` (default: the repository's) into stages. */
export function loadDockerfile(file: string = path.join(REPO_ROOT, 'Dockerfile')): DockerfileModel {
  const parsed = DockerfileParser.parse(readFileSync(file, 'utf8'));
  const stages: Stage[] = [];
  for (const instruction of parsed.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = instruction as From;
      const base = from.getImage() ?? '';
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
    if (current === undefined) continue; // ARGs before the first FROM: none here.
    current.instructions.push(instruction);
  }
  return {
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

/** `ENV` / `ARG` properties of a stage, in order: name and raw value (null for a bare ARG). */
export function properties(stage: Stage, keyword: 'ENV' | 'ARG'): { name: string; value: string | null }[] {
  return instructions(stage, keyword).flatMap((instruction) =>
    (instruction as unknown as { getProperties(): Property[] })
      .getProperties()
      .map((property) => ({ name: property.getName(), value: property.getValue() })),
  );
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
