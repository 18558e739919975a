/**
 * `GET /` (where things are), `GET /openapi.json` (the OpenAPI 3.1 document), `GET /docs`
 * (Swagger UI for it) and `GET /redoc` (ReDoc for it, as the earlier service offered both).
 * The UIs' assets come from npm packages (`swagger-ui-dist`, `redoc`) and are served by the
 * API itself: the pages work offline, and their Content-Security-Policy allows nothing but
 * this origin.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ApiError } from './errors.js';
import type { RouteContext, RouteDefinition, Services } from './routes.js';
import { strictObject } from './schemas/common.js';

const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** ReDoc's one-file browser bundle, as `npm run build` copies it beside the server (`api/bundle.ts`). */
export const REDOC_BUNDLE = 'redoc.standalone.js';

/**
 * Where ReDoc's bundle is: beside the built server (the image: `redoc` is a build-time package,
 * kept out of the production dependencies with its React tree), else in `node_modules` (a
 * source checkout, run with tsx).
 */
function redocBundlePath(): string {
  const built = new URL(REDOC_BUNDLE, import.meta.url);
  if (built.protocol === 'file:' && existsSync(built)) return built.pathname;
  return createRequire(import.meta.url).resolve(`redoc/bundles/${REDOC_BUNDLE}`);
}

/** Our own start-up script: external, because the CSP allows no inline script. */
const INITIALIZER = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
  // Swagger UI would otherwise send the document to validator.swagger.io.
  validatorUrl: null,
});
`;

/** The files `/docs/:asset` serves, and nothing else: no path from the request reaches the disk. */
const ASSETS: Record<string, { type: string; file?: string; text?: string }> = {
  'swagger-ui.css': { type: 'text/css; charset=utf-8', file: 'swagger-ui.css' },
  'swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8', file: 'swagger-ui-bundle.js' },
  'favicon-32x32.png': { type: 'image/png', file: 'favicon-32x32.png' },
  'favicon-16x16.png': { type: 'image/png', file: 'favicon-16x16.png' },
  'initializer.js': { type: 'text/javascript; charset=utf-8', text: INITIALIZER },
};

/** An HTML page of the docs: `head` after the title, `body` as given. */
function htmlPage(head: string[], body: string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '  <meta charset="utf-8">',
    '  <meta name="viewport" content="width=device-width, initial-scale=1">',
    '  <title>chapi API</title>',
    ...head.map((line) => `  ${line}`),
    '</head>',
    '<body>',
    ...body.map((line) => `  ${line}`),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

const PAGE = htmlPage(
  [
    '<link rel="stylesheet" href="/docs/swagger-ui.css">',
    '<link rel="icon" type="image/png" sizes="32x32" href="/docs/favicon-32x32.png">',
    '<link rel="icon" type="image/png" sizes="16x16" href="/docs/favicon-16x16.png">',
  ],
  ['<div id="swagger-ui"></div>', '<script src="/docs/swagger-ui-bundle.js"></script>', '<script src="/docs/initializer.js"></script>'],
);

/** A Content-Security-Policy from its directives. */
function policy(directives: Record<string, string>): string {
  return Object.entries(directives)
    .map(([name, value]) => `${name} ${value}`)
    .join('; ');
}

/** Nothing but this origin, and no framing, forms or base URL changes: what both UIs start from. */
const SAME_ORIGIN_ONLY = {
  'default-src': "'none'",
  'script-src': "'self'",
  // Both UIs set inline styles.
  'style-src': "'self' 'unsafe-inline'",
  'img-src': "'self' data:",
  'connect-src': "'self'",
  'base-uri': "'none'",
  'form-action': "'none'",
  'frame-ancestors': "'none'",
};

/** Swagger UI's: the base (it draws inline SVG images as data: URLs). */
export const DOCS_CSP = policy(SAME_ORIGIN_ONLY);

/** The ReDoc page: the bundle renders the `<redoc>` element itself; no inline script. */
const REDOC_PAGE = htmlPage([], ['<redoc spec-url="/openapi.json"></redoc>', `<script src="/redoc/${REDOC_BUNDLE}"></script>`]);

/**
 * ReDoc's: the base, and what ReDoc needs besides: blob: images, data: fonts, and the worker it
 * builds from a blob for its search index.
 */
export const REDOC_CSP = policy({
  ...SAME_ORIGIN_ONLY,
  'img-src': "'self' data: blob:",
  'font-src': "'self' data:",
  'worker-src': "'self' blob:",
});

/** Assets change only with the package: a day of caching spares the bundle's 1.7 MB. */
const ASSET_CACHE = 'public, max-age=86400';

function docsPage(ctx: RouteContext): void {
  ctx.set('Content-Security-Policy', DOCS_CSP);
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = PAGE;
}

function docsAsset(ctx: RouteContext): void {
  const name = ctx.params.asset ?? '';
  const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (asset === undefined) throw new ApiError('not_found', `No route for ${ctx.method} ${ctx.path}`);
  ctx.set('Content-Security-Policy', DOCS_CSP);
  ctx.set('Cache-Control', ASSET_CACHE);
  ctx.type = asset.type;
  ctx.body = asset.file === undefined ? asset.text : createReadStream(path.join(SWAGGER_UI_DIR, asset.file));
}

function redocPage(ctx: RouteContext): void {
  ctx.set('Content-Security-Policy', REDOC_CSP);
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = REDOC_PAGE;
}

function redocBundle(ctx: RouteContext): void {
  ctx.set('Content-Security-Policy', REDOC_CSP);
  ctx.set('Cache-Control', ASSET_CACHE);
  ctx.type = 'text/javascript; charset=utf-8';
  ctx.body = createReadStream(redocBundlePath());
}

function openApi(ctx: RouteContext, services: Services): void {
  ctx.type = 'application/json; charset=utf-8';
  ctx.body = services.openApiJson;
}

const RootSchema = strictObject(
  {
    name: { type: 'string' },
    version: { type: 'string' },
    docs: { type: 'string', description: 'Swagger UI.' },
    redoc: { type: 'string', description: 'ReDoc.' },
    openapi: { type: 'string', description: 'The OpenAPI 3.1 document.' },
    health: { type: 'string' },
  },
  ['name', 'version', 'docs', 'redoc', 'openapi', 'health'],
);

const SERVICE_DOC = { tags: ['service'], readsBody: false, usesDatabase: false };

/** `/`, `/openapi.json`, `/docs` and its assets. */
export const docsRoutes: RouteDefinition[] = [
  {
    method: 'GET',
    path: '/',
    auth: 'none',
    handle: (ctx, services) => {
      ctx.body = { name: 'chapi', version: services.config.version, docs: '/docs', redoc: '/redoc', openapi: '/openapi.json', health: '/health' };
    },
    doc: {
      ...SERVICE_DOC,
      operationId: 'root',
      summary: 'The API: name, version and where its documentation is',
      responses: {
        200: {
          description: 'Links.',
          content: {
            'application/json': {
              schema: RootSchema,
              example: { name: 'chapi', version: '3f2a9c1', docs: '/docs', redoc: '/redoc', openapi: '/openapi.json', health: '/health' },
            },
          },
        },
      },
    },
  },
  {
    method: 'GET',
    path: '/openapi.json',
    auth: 'none',
    handle: openApi,
    doc: {
      ...SERVICE_DOC,
      operationId: 'openapi',
      summary: 'This document (OpenAPI 3.1)',
      responses: { 200: { description: 'The document.', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  },
  {
    method: 'GET',
    path: '/docs',
    auth: 'none',
    handle: docsPage,
    doc: {
      ...SERVICE_DOC,
      operationId: 'docs',
      summary: 'Swagger UI for this document (served locally, works offline)',
      responses: { 200: { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } } },
    },
  },
  {
    method: 'GET',
    path: '/docs/:asset',
    auth: 'none',
    handle: docsAsset,
    doc: {
      ...SERVICE_DOC,
      operationId: 'docsAsset',
      summary: "The docs page's scripts, styles and icons",
      params: strictObject({ asset: { type: 'string', enum: Object.keys(ASSETS) } }, ['asset']),
      errors: ['not_found'],
      responses: {
        200: {
          description: 'The file.',
          content: {
            'text/css': { schema: { type: 'string' } },
            'text/javascript': { schema: { type: 'string' } },
            'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } },
          },
        },
      },
    },
  },
  {
    method: 'GET',
    path: '/redoc',
    auth: 'none',
    handle: redocPage,
    doc: {
      ...SERVICE_DOC,
      operationId: 'redoc',
      summary: 'ReDoc for this document (served locally, works offline)',
      responses: { 200: { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } } },
    },
  },
  {
    method: 'GET',
    path: `/redoc/${REDOC_BUNDLE}`,
    auth: 'none',
    handle: redocBundle,
    doc: {
      ...SERVICE_DOC,
      operationId: 'redocBundle',
      summary: "The ReDoc page's script",
      responses: { 200: { description: 'The script.', content: { 'text/javascript': { schema: { type: 'string' } } } } },
    },
  },
];
