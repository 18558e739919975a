/**
 * The OpenAPI document and the docs page (docs/api.md, "Health and docs"): the
 * document is valid OpenAPI 3.1, names exactly the routes the router serves, has examples,
 * and describes what the API really answers; `/docs` loads only same-origin assets.
 */
import { readFile } from 'node:fs/promises';
import type Router from '@koa/router';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'chai';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createSql } from '../src/db.js';
import { createLogger } from '../src/logger.js';
import type { RunningServer } from '../src/server.js';
import { apiClient, request, type ApiClient, type ApiResponse } from './helpers/api-client.js';
import { createTestKey, startTestApi } from './helpers/api.js';
import { useTestDatabase } from './helpers/databases.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- walking a JSON document

const ADMIN_KEY = 'openapi-admin-key-0123456789abcdefghij';
const METHODS = ['get', 'post', 'patch', 'delete', 'put'];

function newAjv(): Ajv2020 {
  // The document's schemas carry annotations (examples, contentMediaType) strict mode would flag.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  return ajv;
}

/** Every Schema Object in the document, with where it is. */
function schemasOf(document: Json): [string, Json][] {
  const found: [string, Json][] = [];
  for (const [name, schema] of Object.entries(document.components.schemas as Json)) found.push([`components.schemas.${name}`, schema]);
  for (const [path, item] of Object.entries(document.paths as Json)) {
    for (const method of METHODS) {
      const operation = item[method] as Json | undefined;
      if (operation === undefined) continue;
      const at = `${method.toUpperCase()} ${path}`;
      for (const parameter of (operation.parameters ?? []) as Json[]) found.push([`${at} parameter ${parameter.name}`, parameter.schema]);
      for (const [type, content] of Object.entries((operation.requestBody?.content ?? {}) as Json)) found.push([`${at} body ${type}`, content.schema]);
      for (const [status, response] of Object.entries(operation.responses as Json)) {
        for (const [type, content] of Object.entries((response.content ?? {}) as Json)) found.push([`${at} ${status} ${type}`, content.schema]);
      }
    }
  }
  return found;
}

/** The routes a built app's router really serves, as "METHOD /openapi/{path}". */
function routerRoutes(config: ReturnType<typeof loadConfig>): string[] {
  const sql = createSql(config.database);
  const app = buildApp({ config, sql, logger: createLogger({ level: 'silent', version: 'test' }) });
  void sql.end();
  const routers = app.middleware.map((middleware) => (middleware as { router?: Router }).router).filter((router) => router !== undefined);
  expect(routers).to.have.length(1);
  const routes: string[] = [];
  for (const layer of (routers[0] as Router).stack) {
    for (const method of layer.methods) {
      // HEAD comes with every GET (@koa/router); the document lists the GET.
      if (method === 'HEAD') continue;
      routes.push(`${method} ${String(layer.path).replaceAll(/:([A-Za-z_]+)/g, '{$1}')}`);
    }
  }
  return routes.sort();
}

function documentRoutes(document: Json): string[] {
  const routes: string[] = [];
  for (const [path, item] of Object.entries(document.paths as Json)) {
    for (const method of METHODS) if (item[method] !== undefined) routes.push(`${method.toUpperCase()} ${path}`);
  }
  return routes.sort();
}

describe('OpenAPI document and docs', () => {
  const db = useTestDatabase();
  let api: RunningServer;
  let document: Json;
  let client: ApiClient;

  before(async () => {
    api = await startTestApi(db.url, { env: { ADMIN_API_KEY: ADMIN_KEY, APP_VERSION: 'abc1234' } });
    const response = await request(api.url, 'GET', '/openapi.json');
    expect(response.status).to.equal(200);
    expect(response.headers['content-type']).to.equal('application/json; charset=utf-8');
    document = response.json as Json;
    client = apiClient(api.url, { key: await createTestKey(db.sql) });
  });
  after(async () => {
    await api.stop();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.valid, JSON.stringify(result.errors, null, 2)).to.equal(true);
    expect(validator.version).to.equal('3.1');
    expect(document.openapi).to.equal('3.1.0');
    // The validator does judge: a broken copy fails.
    const broken = structuredClone(document);
    broken.paths['/execute'].post.responses = { 200: { content: 'none' } };
    expect((await new Validator().validate(broken)).valid).to.equal(false);
    expect(document.info.version).to.equal('abc1234');
  });

  it('every schema in it is a valid JSON Schema 2020-12 that compiles', () => {
    const ajv = newAjv();
    const schemas = schemasOf(document);
    expect(schemas.length).to.be.above(40);
    for (const [where, schema] of schemas) {
      const resolved = typeof schema.$ref === 'string' ? resolveRef(document, schema.$ref) : schema;
      expect(ajv.validateSchema(resolved), `${where}: ${ajv.errorsText(ajv.errors)}`).to.equal(true);
      expect(() => ajv.compile(resolved), where).not.to.throw();
    }
  });

  it('names exactly the routes the router serves, and vice versa (with and without the admin routes)', () => {
    const base = { NODE_ENV: 'test', DATABASE_URL: db.url, LOG_LEVEL: 'silent' };
    const withAdmin = loadConfig({ ...base, ADMIN_API_KEY: ADMIN_KEY });
    expect(routerRoutes(withAdmin)).to.deep.equal(documentRoutes(document));
    expect(documentRoutes(document)).to.include.members(['POST /admin/rotate-key', 'POST /execute', 'PATCH /v1/users/{user_id}/tasks/{task_id}']);
  });

  it('without ADMIN_API_KEY neither the router nor the document has /admin', async () => {
    const bare = await startTestApi(db.url);
    try {
      const bareDocument = (await request(bare.url, 'GET', '/openapi.json')).json as Json;
      const routes = documentRoutes(bareDocument);
      expect(routes.some((route) => route.includes('/admin'))).to.equal(false);
      expect(routerRoutes(loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url }))).to.deep.equal(routes);
    } finally {
      await bare.stop();
    }
  });

  it("the README's API section lists every documented route", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## API'), readme.indexOf('## Configuration'));
    for (const route of documentRoutes(document)) {
      // The docs pages' own assets are an implementation detail of GET /docs and GET /redoc.
      if (route === 'GET /docs/{asset}' || route.startsWith('GET /redoc/')) continue;
      expect(section, route).to.include(`\`${route}`);
    }
  });

  it('shows an example for every request body and every enveloped success', () => {
    for (const [path, item] of Object.entries(document.paths as Json)) {
      for (const method of METHODS) {
        const operation = item[method] as Json | undefined;
        if (operation === undefined) continue;
        const at = `${method.toUpperCase()} ${path}`;
        const body = operation.requestBody?.content?.['application/json'] as Json | undefined;
        if (body !== undefined) expect(body.example ?? body.examples, `${at} request example`).to.not.equal(undefined);
        for (const [status, response] of Object.entries(operation.responses as Json)) {
          if (!status.startsWith('2')) continue;
          const content = response.content?.['application/json'] as Json | undefined;
          if (content?.schema?.properties?.success !== undefined) {
            expect(content.example ?? content.examples, `${at} ${status} example`).to.not.equal(undefined);
          }
        }
      }
    }
  });

  describe('describes what the API really answers', () => {
    const validators = new Map<string, ValidateFunction>();

    /** Checks a real response against the documented schema for its route, method and status. */
    function expectDocumented(method: string, path: string, response: ApiResponse): void {
      const operation = document.paths[path]?.[method.toLowerCase()] as Json | undefined;
      expect(operation, `${method} ${path} is documented`).to.not.equal(undefined);
      const documented = operation?.responses?.[String(response.status)] as Json | undefined;
      expect(documented, `${method} ${path} documents ${response.status}: ${response.text}`).to.not.equal(undefined);
      const cacheKey = `${method} ${path} ${response.status}`;
      let validate = validators.get(cacheKey);
      if (validate === undefined) {
        const schema = documented?.content?.['application/json']?.schema as Json;
        const resolved = schema.$ref === undefined ? schema : resolveRef(document, schema.$ref as string);
        validate = newAjv().compile(resolved);
        validators.set(cacheKey, validate);
      }
      expect(validate(response.json), `${cacheKey}: ${JSON.stringify(validate.errors)}\n${response.text}`).to.equal(true);
    }

    it('for the task operations, on both transports', async () => {
      const created = await client.execute('create-task', 'doc-user', { title: 'documented', due_date: '2030-01-01T00:00:00Z' });
      expectDocumented('POST', '/execute', created);
      const id = created.data.id as string;
      expectDocumented('POST', '/execute', await client.execute('list-tasks', 'doc-user', { limit: 1 }));
      expectDocumented('POST', '/execute', await client.execute('get-task', 'doc-user', { task_id: id }));
      expectDocumented('POST', '/execute', await client.execute('update-task', 'doc-user', { task_id: id, status: 'completed' }));
      expectDocumented('POST', '/execute', await client.execute('get-stats', 'doc-user'));
      expectDocumented('POST', '/execute', await client.execute('delete-task', 'doc-user', { task_id: id }));

      const viaV1 = await client.post('/v1/users/doc-user/tasks', { title: 'v1' });
      expectDocumented('POST', '/v1/users/{user_id}/tasks', viaV1);
      const v1Id = viaV1.data.id as string;
      expectDocumented('GET', '/v1/users/{user_id}/tasks', await client.get('/v1/users/doc-user/tasks'));
      expectDocumented('GET', '/v1/users/{user_id}/tasks/{task_id}', await client.get(`/v1/users/doc-user/tasks/${v1Id}`));
      expectDocumented('PATCH', '/v1/users/{user_id}/tasks/{task_id}', await client.patch(`/v1/users/doc-user/tasks/${v1Id}`, { priority: null }));
      expectDocumented('GET', '/v1/users/{user_id}/stats', await client.get('/v1/users/doc-user/stats'));
      expectDocumented('DELETE', '/v1/users/{user_id}/tasks/{task_id}', await client.delete(`/v1/users/doc-user/tasks/${v1Id}`));
    });

    it('for errors', async () => {
      expectDocumented('POST', '/execute', await request(api.url, 'POST', '/execute', { body: {} }));
      expectDocumented('POST', '/execute', await client.post('/execute', 'x'.repeat(70_000), { headers: { 'Content-Type': 'text/plain' } }));
      expectDocumented('POST', '/execute', await client.post('/execute', 'x', { headers: { 'Content-Type': 'text/plain' } }));
      expectDocumented('POST', '/execute', await client.post('/execute', '{', { headers: { 'Content-Type': 'application/json' } }));
      expectDocumented('POST', '/execute', await client.execute('nope', 'u'));
      expectDocumented('POST', '/execute', await client.execute('create-task', 'u', { title: '' }));
      expectDocumented('GET', '/v1/users/{user_id}/tasks/{task_id}', await client.get('/v1/users/u/tasks/00000000-0000-4000-8000-000000000000'));
      expectDocumented('GET', '/v1/users/{user_id}/tasks', await client.get('/v1/users/u/tasks?limit=0'));
    });

    it('for the admin routes, health and the root', async () => {
      const asAdmin = { headers: { 'X-Admin-Key': ADMIN_KEY } };
      expectDocumented('POST', '/admin/service-keys', await client.post('/admin/service-keys', { key_name: 'documented', environment: 'test' }, asAdmin));
      expectDocumented('POST', '/admin/service-keys', await client.post('/admin/service-keys', { key_name: 'documented', environment: 'test' }, asAdmin));
      expectDocumented('GET', '/admin/service-keys', await client.get('/admin/service-keys', asAdmin));
      expectDocumented('POST', '/admin/rotate-key', await client.post('/admin/rotate-key', { key_name: 'documented' }, asAdmin));
      expectDocumented('POST', '/admin/service-keys/{key_name}/revoke', await client.post('/admin/service-keys/documented/revoke', undefined, asAdmin));
      expectDocumented('POST', '/admin/service-keys/{key_name}/revoke', await client.post('/admin/service-keys/documented/revoke', undefined, asAdmin));
      expectDocumented('GET', '/health', await request(api.url, 'GET', '/health'));
      expectDocumented('GET', '/health/ready', await request(api.url, 'GET', '/health/ready'));
      expectDocumented('GET', '/', await request(api.url, 'GET', '/'));
    });
  });

  describe('/docs', () => {
    it('serves Swagger UI whose every asset comes from this origin, under a same-origin CSP', async () => {
      const page = await request(api.url, 'GET', '/docs');
      expect(page.status).to.equal(200);
      expect(page.headers['content-type']).to.equal('text/html; charset=utf-8');
      const csp = String(page.headers['content-security-policy']);
      expect(csp).to.include("default-src 'none'");
      expect(csp).to.include("script-src 'self'");
      expect(csp).to.include("connect-src 'self'");
      expect(csp).not.to.match(/https?:|\*/);
      const references = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
      expect(references.length).to.be.at.least(3);
      expect(page.text).not.to.match(/<script>(?!<)/);
      for (const reference of references) {
        expect(reference, 'same-origin, root-relative').to.match(/^\/docs\//);
        const asset = await request(api.url, 'GET', reference);
        expect(asset.status, reference).to.equal(200);
        expect(asset.text.length, reference).to.be.above(100);
      }
      expect(references).to.include.members(['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css', '/docs/initializer.js']);
    });

    it('points Swagger UI at /openapi.json and keeps it from calling validator.swagger.io', async () => {
      const initializer = await request(api.url, 'GET', '/docs/initializer.js');
      expect(initializer.headers['content-type']).to.equal('text/javascript; charset=utf-8');
      expect(initializer.text).to.include("url: '/openapi.json'");
      expect(initializer.text).to.include('validatorUrl: null');
    });

    it('serves nothing else under /docs (404 envelope)', async () => {
      for (const path of ['/docs/package.json', '/docs/..%2Fpackage.json', '/docs/swagger-ui-bundle.js.map', '/docs/constructor']) {
        const response = await request(api.url, 'GET', path);
        expect(response.status, path).to.equal(404);
        expect(response.error?.code).to.equal('not_found');
      }
    });

    it('GET / says where the docs are', async () => {
      const root = await request(api.url, 'GET', '/');
      expect(root.json).to.deep.equal({ name: 'chapi', version: 'abc1234', docs: '/docs', redoc: '/redoc', openapi: '/openapi.json', health: '/health' });
    });
  });
});

/** A `#/components/schemas/<name>` reference's schema in the document. */
function resolveRef(document: Json, ref: string): Json {
  const name = /^#\/components\/schemas\/(\w+)$/.exec(ref)?.[1];
  const schema = name === undefined ? undefined : (document.components.schemas[name] as Json | undefined);
  if (schema === undefined) throw new Error(`unresolvable reference ${ref}`);
  return schema;
}
