// Mocha's spec reporter, plus one JSON line of totals appended to $CHAPI_TEST_SUMMARY_FILE,
// so that `npm test` can add up several mocha processes into one "N passed, N failed" line.
// CommonJS because mocha loads reporters with require().
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const file = process.env.CHAPI_TEST_SUMMARY_FILE;
      if (!file) return;
      const { passes, failures, pending } = runner.stats;
      fs.appendFileSync(file, JSON.stringify({ suite: process.env.CHAPI_TEST_SUITE ?? 'mocha', passes, failures, pending }) + '\n');
    });
  }
}

module.exports = SummaryReporter;
