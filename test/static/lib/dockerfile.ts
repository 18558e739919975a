/** The Dockerfile model lives with `npm run check:image`, which derives its expectations from it too. */
export * from '../../../scripts/lib/dockerfile.js';
