/**
 * infra/README.md's configuration table says what the prod stack is set to; Pulumi.prod.yaml
 * is what it is set to. Each row whose prod value is a list or a plain literal is checked
 * against the YAML (derived from both files, so a new client or a changed setting that the
 * README does not follow fails here).
 */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parse } from 'yaml';

const read = (file: string): string => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

/** `| \`chapi:key\` | \`prod value\` | …` rows of the configuration table: key → prod cell. */
function prodColumn(readme: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const match of readme.matchAll(/^\| `([a-z]+:[A-Za-z]+)` \| `([^`]*)` \|/gm)) rows.set(match[1] as string, match[2] as string);
  return rows;
}

/** A YAML value as the README writes it: lists as `[a, b]`, scalars as their text. */
function asReadmeText(value: unknown): string | undefined {
  if (Array.isArray(value)) return `[${value.map(String).join(', ')}]`;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

describe('infra/README.md configuration table vs Pulumi.prod.yaml', () => {
  const config = (parse(read('Pulumi.prod.yaml')) as { config: Record<string, unknown> }).config;
  const documented = prodColumn(read('infra/README.md'));

  it('documents chapi:serviceClients with the prod stack\'s clients', () => {
    expect(documented.get('chapi:serviceClients')).to.equal(asReadmeText(config['chapi:serviceClients']));
  });

  it('every prod value the table states is the one Pulumi.prod.yaml sets', () => {
    const compared = [...documented].filter(([key]) => asReadmeText(config[key]) !== undefined);
    expect(compared.length, 'rows compared').to.be.greaterThan(5);
    for (const [key, readmeValue] of compared) expect(readmeValue, key).to.equal(asReadmeText(config[key]));
  });
});
