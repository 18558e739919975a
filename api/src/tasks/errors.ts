/**
 * How an operation says no, in its own terms: no status codes, no JSON pointers. Each
 * transport turns these into its own answer (`transports/operation-errors.ts`).
 */

/** Why an operation refused. */
export type OperationErrorCode = 'not_found' | 'invalid_input';

/** An operation's refusal; `field` names the input field at fault (`invalid_input`). */
export class OperationError extends Error {
  override name = 'OperationError';
  readonly code: OperationErrorCode;
  readonly field: string | undefined;

  constructor(code: OperationErrorCode, message: string, field?: string) {
    super(message);
    this.code = code;
    this.field = field;
  }
}
