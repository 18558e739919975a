/**
 * Loaded by mocha before any test file of the bootstrap suite (infra/bootstrap/.mocharc.json):
 * installs the Pulumi mocks for the bootstrap project. Mocks are process-global, so this suite
 * runs in its own process, apart from the main program's (scripts/test.ts).
 */
import { installMockCloud } from '../../mock-cloud.js';

await installMockCloud('admin', 'chapi-bootstrap');
