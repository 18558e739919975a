/**
 * How the image runs the API. The Dockerfile's runtime stage says the same (`CMD ["node",
 * ...RUNTIME_NODE_FLAGS, "api/dist/main.js"]` and `ENV` for RUNTIME_ENV; a static test holds
 * them together), and `npm run bench` starts the API this way, so it measures what runs.
 *
 * Each setting is measured with `npm run bench -- --node-flags=…` (docs/performance.md). On a
 * 0.25 vCPU / 512 MB task the CPU runs out first, so where the two pull apart CPU wins:
 * - `--max-semi-space-size=4`: V8's young generation grows to 3 × 16 MB under load by
 *   default; request garbage dies young, so 4 MB semi-spaces hold it in far less RAM. 1 MB
 *   (the setting until issue 14) saved ~5–7 MB of peak RSS but collected four times as
 *   often: with 32 requests in flight every collection copies their live objects, and the
 *   API spent 15–25 % more CPU per request (health 0.058 → 0.042 ms, get-task 0.18 → 0.17,
 *   list-tasks 0.56 → 0.43, in one run).
 * - `--heap-growing-percent=25`: after a full collection V8 lets the old generation grow to
 *   up to 4× what survived (a ~17 MB live set became 64 MB of heap) before the next one.
 *   1.25× keeps the heap near its live size; a full collection of so small a heap takes
 *   a few milliseconds.
 * - `--v8-pool-size=1`: one V8 helper thread instead of four. A quarter of a core runs one
 *   thread at a time anyway; each idle helper still holds its stack and a malloc arena.
 * - `--max-old-space-size=256`: left to itself, Node derives V8's heap limit from the memory
 *   it detects (the cgroup where it can read one, else the machine's), and a limit near the
 *   whole task lets the heap grow until the cgroup kills the process before V8 collects.
 *   Stated, it no longer depends on that detection, and half the task is left for what lives
 *   outside the old generation (code, the young generation, buffers, malloc). The API's own
 *   heap stays far below it: listings are written in bounded batches (issue 13).
 * - `--no-allocation-site-pretenuring`: V8 watches where objects are allocated, and once most
 *   objects from one place outlive a young-generation collection it allocates that place's
 *   objects straight into the old generation. A server's per-request objects (the context,
 *   the request, the query) live as long as their request, so with 32 requests in flight they
 *   often survive one collection and got pretenured: every request then filled the old
 *   generation, and a full collection ran every ~250 ms under load (72 in a 17 s run, against
 *   15 without pretenuring), taking ~30 % of the API's CPU per request on /health and ~20 % on
 *   get-task (docs/performance.md). Without it they die young, as they should.
 * - `MALLOC_ARENA_MAX=2`: glibc otherwise gives busy threads their own arenas (up to 8 per
 *   core), memory that is freed but never returned.
 */
export const RUNTIME_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=4',
  '--heap-growing-percent=25',
  '--v8-pool-size=1',
  '--max-old-space-size=256',
  '--no-allocation-site-pretenuring',
];

/** The Fargate task memory the flags are sized for (MiB): `chapi:memory` in Pulumi.prod.yaml. */
export const TASK_MEMORY_MIB = 512;

export const RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
