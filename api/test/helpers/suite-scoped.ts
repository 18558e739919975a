/**
 * A value a `describe` holds for all of its tests: started in its `before` hook, stopped in its
 * `after` hook. What `useTestDatabase` and `useApiBehindProxy` are made of.
 */

/**
 * Registers the hooks in the calling `describe` and returns the function that reads the value
 * inside its tests and hooks; read earlier (at definition time), it throws, saying `what`.
 */
export function suiteScoped<T>(what: string, start: () => Promise<T>, stop: (value: T) => Promise<void>): () => T {
  let value: T | undefined;
  before(async () => {
    value = await start();
  });
  after(async () => {
    if (value !== undefined) await stop(value);
  });
  return () => {
    if (value === undefined) throw new Error(`${what} in a before() hook: use it inside tests or hooks`);
    return value;
  };
}
