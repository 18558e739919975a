/**
 * Loaded by mocha before any test file of the infra suite (infra/.mocharc.json `require`):
 * installs the Pulumi mocks, which must come before the program's modules are imported.
 * The test files therefore import the program dynamically (see ./support.ts).
 */
import { installMockCloud } from '../mock-cloud.js';

await installMockCloud('prod');
