/**
 * The six task operations over either transport, so one test body checks `/execute` and
 * `/v1` alike: `for (const transport of transports(client)) describe(transport.name, …)`.
 */
import type { ApiClient, ApiResponse, RequestOptions } from './api-client.js';

/** An operation's input, as `/execute` would carry it in `payload`. */
export type Payload = Record<string, unknown>;

/** The six operations over one transport. */
export interface TransportClient {
  name: 'execute' | 'v1';
  /** The status of a successful create (200 on /execute, 201 on /v1). */
  createdStatus: number;
  /** The status of an operation's input that does not fit (400 on /execute, as the earlier service; 422 on /v1). */
  invalidStatus: number;
  create(userId: string, payload: Payload, options?: RequestOptions): Promise<ApiResponse>;
  list(userId: string, payload?: Payload): Promise<ApiResponse>;
  get(userId: string, taskId: string): Promise<ApiResponse>;
  update(userId: string, taskId: string, changes: Payload): Promise<ApiResponse>;
  remove(userId: string, taskId: string): Promise<ApiResponse>;
  stats(userId: string): Promise<ApiResponse>;
  /** Where a 422 points for a field of this operation's input. */
  pointer(operation: 'create' | 'list' | 'get' | 'update' | 'remove', field: string): string;
}

/**
 * A path segment, percent-encoded. A lone surrogate has no UTF-8 form (encodeURIComponent
 * throws): it is written as the bytes a careless client would send (WTF-8, ED A0 80 for
 * U+D800), which the API must refuse rather than guess at.
 */
export function encodeSegment(text: string): string {
  let encoded = '';
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    const isHigh = code >= 0xd800 && code <= 0xdbff;
    const next = text.charCodeAt(index + 1);
    if (isHigh && next >= 0xdc00 && next <= 0xdfff) {
      encoded += encodeURIComponent(text.slice(index, index + 2));
      index += 1;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      encoded += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((byte) => `%${byte.toString(16).toUpperCase()}`)
        .join('');
    } else {
      encoded += encodeURIComponent(text[index] as string);
    }
  }
  return encoded;
}

function userPath(userId: string): string {
  return `/v1/users/${encodeSegment(userId)}`;
}

/** `{ limit: 5, status: 'pending' }` → `?limit=5&status=pending`. */
function queryString(payload: Payload | undefined): string {
  if (payload === undefined) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(payload)) params.append(name, String(value));
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** The operations as `POST /execute` actions. */
export function executeTransport(client: ApiClient): TransportClient {
  return {
    name: 'execute',
    createdStatus: 200,
    invalidStatus: 400,
    create: (userId, payload, options) => client.execute('create-task', userId, payload, options),
    list: (userId, payload) => client.execute('list-tasks', userId, payload),
    get: (userId, taskId) => client.execute('get-task', userId, { task_id: taskId }),
    update: (userId, taskId, changes) => client.execute('update-task', userId, { task_id: taskId, ...changes }),
    remove: (userId, taskId) => client.execute('delete-task', userId, { task_id: taskId }),
    stats: (userId) => client.execute('get-stats', userId),
    pointer: (_operation, field) => `/payload/${field}`,
  };
}

/** The operations as `/v1` resources. */
export function v1Transport(client: ApiClient): TransportClient {
  return {
    name: 'v1',
    createdStatus: 201,
    invalidStatus: 422,
    create: (userId, payload, options) => client.post(`${userPath(userId)}/tasks`, payload, options),
    list: (userId, payload) => client.get(`${userPath(userId)}/tasks${queryString(payload)}`),
    get: (userId, taskId) => client.get(`${userPath(userId)}/tasks/${encodeSegment(taskId)}`),
    update: (userId, taskId, changes) => client.patch(`${userPath(userId)}/tasks/${encodeSegment(taskId)}`, changes),
    remove: (userId, taskId) => client.delete(`${userPath(userId)}/tasks/${encodeSegment(taskId)}`),
    stats: (userId) => client.get(`${userPath(userId)}/stats`),
    pointer: (operation, field) => {
      if (field === 'task_id' || field === 'user_id') return `/path/${field}`;
      return operation === 'list' ? `/query/${field}` : `/${field}`;
    },
  };
}

/** Both transports over one client. */
export function bothTransports(client: () => ApiClient): TransportClient[] {
  // Resolved lazily: the client exists only once the suite's before() hook ran.
  const lazy = (make: (client: ApiClient) => TransportClient, name: TransportClient['name']): TransportClient => {
    const current = () => make(client());
    return {
      name,
      createdStatus: name === 'execute' ? 200 : 201,
      invalidStatus: name === 'execute' ? 400 : 422,
      create: (...args) => current().create(...args),
      list: (...args) => current().list(...args),
      get: (...args) => current().get(...args),
      update: (...args) => current().update(...args),
      remove: (...args) => current().remove(...args),
      stats: (...args) => current().stats(...args),
      pointer: (...args) => current().pointer(...args),
    };
  };
  return [lazy(executeTransport, 'execute'), lazy(v1Transport, 'v1')];
}
