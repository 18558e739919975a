/**
 * A small HTTP client for API tests, on `node:http` so a test controls every byte: the method
 * (a GET may carry a body), the headers (no Content-Type is added behind its back), the body
 * (raw bytes, or an object sent as JSON).
 *
 * ```ts
 * const client = apiClient(api.url, { key });
 * const created = await client.execute('create-task', 'user-1', { title: 'Feed the cats' });
 * const page = await client.get('/v1/users/user-1/tasks?limit=10');
 * ```
 */
import http from 'node:http';

/** A response, read whole. */
export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The raw body. */
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: unknown;
  /** The data: an envelope's `data`, or a bare body (`/admin`) itself. */
  data: Record<string, unknown>;
  /**
   * The error, read from whichever of the API's three shapes it came in (`/v1`'s envelope
   * error object, `/execute`'s message with `error_code`, `/admin`'s `detail` and
   * `error_code`), so one test can judge them alike. The shape itself is in `json`.
   */
  error: ApiErrorContent | undefined;
}

/** What any error says, whatever its shape. */
export interface ApiErrorContent {
  code: string;
  message: string;
  details?: { path: string; message: string }[];
  request_id?: string;
}

/** The error in a parsed body, from any of the three shapes; undefined when it is none. */
export function errorOf(json: unknown): ApiErrorContent | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const body = json as Record<string, unknown>;
  const extra = {
    ...(body.details === undefined ? {} : { details: body.details as ApiErrorContent['details'] }),
    ...(body.request_id === undefined ? {} : { request_id: body.request_id as string }),
  };
  if (typeof body.error === 'object' && body.error !== null) return body.error as ApiErrorContent;
  if (typeof body.error === 'string') return { code: String(body.error_code), message: body.error, ...extra };
  if (typeof body.detail === 'string') return { code: String(body.error_code), message: body.detail, ...extra };
  return undefined;
}

/** How to send one request. */
export interface RequestOptions {
  headers?: Record<string, string | string[]>;
  /** An object (sent as JSON with Content-Type: application/json unless headers say otherwise), text or bytes (sent as is). */
  body?: unknown;
  /** Send `X-API-Key` (default: the client's key; null: none). */
  key?: string | null;
}

/** One request; resolves with the response whatever its status. */
export async function request(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
  const headers: Record<string, string | string[]> = { ...options.headers };
  if (options.key !== undefined && options.key !== null) headers['X-API-Key'] = options.key;
  let payload: Buffer | undefined;
  if (options.body !== undefined) {
    if (typeof options.body === 'string' || Buffer.isBuffer(options.body)) {
      payload = Buffer.from(options.body as string | Buffer);
    } else {
      payload = Buffer.from(JSON.stringify(options.body));
      const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
      if (!hasType) headers['Content-Type'] = 'application/json';
    }
    headers['Content-Length'] = String(payload.length);
  }
  const url = new URL(path, baseUrl);
  return await new Promise<ApiResponse>((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const isEnvelope = typeof json === 'object' && json !== null && 'success' in json;
        const error = errorOf(json);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json,
          data: (isEnvelope ? (json as { data?: unknown }).data : error === undefined ? json : undefined) as Record<string, unknown>,
          error,
        });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Shortcuts for the API's routes. */
export interface ApiClient {
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  get(path: string, options?: RequestOptions): Promise<ApiResponse>;
  post(path: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse>;
  patch(path: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse>;
  delete(path: string, options?: RequestOptions): Promise<ApiResponse>;
  /** `POST /execute` with `{ action, user_id, payload }` (payload left out when undefined). */
  execute(action: string, userId: string, payload?: unknown, options?: RequestOptions): Promise<ApiResponse>;
}

/** A client bound to a base URL and (optionally) a service key. */
export function apiClient(baseUrl: string, defaults: { key?: string } = {}): ApiClient {
  const call = (method: string, path: string, options: RequestOptions = {}) =>
    request(baseUrl, method, path, { ...options, key: options.key === undefined ? defaults.key : options.key });
  return {
    request: call,
    get: (path, options) => call('GET', path, options),
    post: (path, body, options) => call('POST', path, { ...options, body }),
    patch: (path, body, options) => call('PATCH', path, { ...options, body }),
    delete: (path, options) => call('DELETE', path, options),
    execute: (action, userId, payload, options) =>
      call('POST', '/execute', {
        ...options,
        body: payload === undefined ? { action, user_id: userId } : { action, user_id: userId, payload },
      }),
  };
}
