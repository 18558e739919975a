/**
 * The offline plan diff as markdown, and the one pull request comment that carries it.
 * Used by `scripts/plan-diff.ts` (the PR preview workflow).
 */

/** Marks chapi's plan-diff comment, so each push edits it instead of adding another. */
export const COMMENT_MARKER = '<!-- chapi:offline-plan-diff -->';
/**
 * GitHub refuses comments over 65,536 characters; keep well below, with room for the frame.
 * A diff this large is read in the job log, which has all of it.
 */
export const MAX_DIFF_CHARS = 60_000;
/** How long one GitHub API call may take. */
const REQUEST_TIMEOUT_MS = 15_000;

export interface RenderedDiff {
  /** One line for the log. */
  summary: string;
  /** The comment / step-summary body, marker included. */
  markdown: string;
}

/** Markdown for the diff of `plan` against `base` (`diff` empty: no change). */
export function renderPlanDiff(input: { plan: string; diff: string; base: string }): RenderedDiff {
  const title = `### Offline plan: \`${input.plan}\``;
  if (input.diff === '') {
    const summary = `offline plan unchanged since ${input.base.slice(0, 12)}: no infrastructure change in this pull request`;
    return { summary, markdown: `${COMMENT_MARKER}\n${title}\n\nUnchanged: this pull request changes no infrastructure.` };
  }
  const added = input.diff.split('\n').filter((line) => line.startsWith('+') && !line.startsWith('+++')).length;
  const removed = input.diff.split('\n').filter((line) => line.startsWith('-') && !line.startsWith('---')).length;
  const summary = `offline plan changed since ${input.base.slice(0, 12)}: +${added} -${removed} lines`;
  let shown = input.diff;
  let note = '';
  if (shown.length > MAX_DIFF_CHARS) {
    shown = shown.slice(0, MAX_DIFF_CHARS);
    note = `\n\n_Cut at ${MAX_DIFF_CHARS} characters: the job log has the whole diff._`;
  }
  // A fence longer than any backtick run inside, so the diff cannot close it early.
  const longestRun = Math.max(0, ...(shown.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  const markdown = [
    COMMENT_MARKER,
    title,
    '',
    `This pull request changes the committed plan (+${added} −${removed} lines). \`pulumi preview\` against AWS is in its own comment.`,
    '',
    '<details open><summary>diff</summary>',
    '',
    `${fence}diff`,
    shown.trimEnd(),
    fence,
    '',
    `</details>${note}`,
  ].join('\n');
  return { summary, markdown };
}

interface CommentTarget {
  /** e.g. https://api.github.com */
  apiUrl: string;
  token: string;
  /** owner/name */
  repository: string;
  pullRequest: number;
  markdown: string;
  /** False when the plan is unchanged: then no new comment is opened, only an old one edited. */
  changed: boolean;
}

export type CommentOutcome = 'created' | 'updated' | 'skipped: plan unchanged' | 'skipped: the token may not comment (a fork?)';

/** Creates or edits the marked comment; never adds a second one. */
export async function upsertPullRequestComment(target: CommentTarget): Promise<CommentOutcome> {
  const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> => {
    const response = await fetch(`${target.apiUrl.replace(/\/+$/, '')}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${target.token}`,
        Accept: 'application/vnd.github+json',
        'X-GitHub-Api-Version': '2022-11-28',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    return { status: response.status, json: text === '' ? null : (JSON.parse(text) as unknown) };
  };

  const issue = `/repos/${target.repository}/issues/${target.pullRequest}`;
  let existing: number | undefined;
  for (let page = 1; existing === undefined; page += 1) {
    const { status, json } = await api('GET', `${issue}/comments?per_page=100&page=${page}`);
    if (status !== 200 || !Array.isArray(json)) throw new Error(`listing the pull request's comments: HTTP ${status}`);
    const comments = json as { id: number; body?: string }[];
    existing = comments.find((comment) => comment.body?.includes(COMMENT_MARKER) ?? false)?.id;
    if (comments.length < 100) break;
  }

  if (existing === undefined && !target.changed) return 'skipped: plan unchanged';
  const { status } =
    existing === undefined
      ? await api('POST', `${issue}/comments`, { body: target.markdown })
      : await api('PATCH', `/repos/${target.repository}/issues/comments/${existing}`, { body: target.markdown });
  if (status === 403 || status === 404) return 'skipped: the token may not comment (a fork?)';
  if (status !== 200 && status !== 201) throw new Error(`writing the pull request comment: HTTP ${status}`);
  return existing === undefined ? 'created' : 'updated';
}
