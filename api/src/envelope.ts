/**
 * The response envelope shared by `/execute`, `/v1/*` and `/admin/*`:
 * `{ success, data, error, timestamp }`.
 */
import type { ErrorCode, ErrorDetail } from './errors.js';

export interface SuccessEnvelope<T> {
  success: true;
  data: T;
  error: null;
  timestamp: string;
}

export interface ErrorEnvelope {
  success: false;
  data: null;
  error: { code: ErrorCode; message: string; details?: ErrorDetail[]; request_id?: string };
  timestamp: string;
}

export function success<T>(data: T, now: number): SuccessEnvelope<T> {
  return { success: true, data, error: null, timestamp: new Date(now).toISOString() };
}

export function failure(error: ErrorEnvelope['error'], now: number): ErrorEnvelope {
  return { success: false, data: null, error, timestamp: new Date(now).toISOString() };
}
