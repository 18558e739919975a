/**
 * The API process: `node dist/main.js` in the image, `tsx api/src/main.ts` locally.
 * Reads the environment, starts the server, and turns SIGTERM/SIGINT into the graceful stop.
 */
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, flushLogs } from './logger.js';
import { startServer } from './server.js';

/** Runs the API as a process: exits 1 with one clear line on a bad config. */
export async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`chapi: configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger({ level: config.logLevel, version: config.version });
  const running = await startServer(config, { logger });
  running.validatorsReady.catch((error: unknown) => {
    logger.fatal({ err: error }, 'a request schema does not compile');
    process.exit(1);
  });

  const shutdown = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'shutting down');
    flushLogs();
    running.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

await main();
