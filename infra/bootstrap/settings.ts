/**
 * The bootstrap's fixed settings, in a module without Pulumi imports: the tests read them
 * before the mocks are installed (a module that loads @pulumi/aws first would bind the real
 * runtime), and `./bootstrap.ts` declares the resources from them.
 */

/** GitHub's OIDC issuer and the audience `aws-actions/configure-aws-credentials` asks for. */
export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';
/** The GitHub environments the two jobs run in (deploy.yml, preview.yml). */
export const DEPLOY_ENVIRONMENT = 'production';
export const PREVIEW_ENVIRONMENT = 'preview';
/**
 * The deploy role's sessions last 2 hours: longer than the deploy job's 60-minute timeout, so
 * credentials never expire in the middle of a `pulumi up` (the workflow asks for the same
 * duration). A role allows 1 to 12 hours: https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
 * (MaxSessionDuration).
 */
export const DEPLOY_SESSION_SECONDS = 7200;
/** The roles' names: not chapi-…, which the deploy role may manage. */
export const DEPLOY_ROLE_NAME = 'github-chapi-deploy';
export const PREVIEW_ROLE_NAME = 'github-chapi-preview';
/** A preview is short; the default hour is plenty. */
export const PREVIEW_SESSION_SECONDS = 3600;
/** The alias `Pulumi.prod.yaml`'s secrets provider names (`awskms://alias/chapi-pulumi`). */
export const KEY_ALIAS = 'alias/chapi-pulumi';
/**
 * The permissions boundary every role of the program carries. The deploy role may create and
 * change the program's roles only with this boundary on them, so it cannot make a role more
 * powerful than the program's own roles are (the boundary is derived from them: ./policy.ts).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
 */
export const WORKLOAD_BOUNDARY_NAME = 'chapi-workload-boundary';
