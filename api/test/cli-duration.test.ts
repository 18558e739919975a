import { expect } from 'chai';
import { formatGrace, parseGrace } from '../src/cli/duration.js';
import { MAX_ROTATION_GRACE_MS } from '../src/keys/service.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('--grace durations (cli/duration.ts)', () => {
  it('reads days, hours, minutes, seconds, and 0', () => {
    expect(parseGrace('7d')).to.deep.equal({ ms: 7 * DAY });
    expect(parseGrace('12h')).to.deep.equal({ ms: 12 * HOUR });
    expect(parseGrace('30m')).to.deep.equal({ ms: 30 * MINUTE });
    expect(parseGrace('90s')).to.deep.equal({ ms: 90_000 });
    expect(parseGrace('1.5h')).to.deep.equal({ ms: 90 * MINUTE });
    expect(parseGrace('7 days')).to.deep.equal({ ms: 7 * DAY });
    expect(parseGrace('0')).to.deep.equal({ ms: 0 });
    expect(parseGrace('30d')).to.deep.equal({ ms: MAX_ROTATION_GRACE_MS });
  });

  it('refuses a bare number (days or milliseconds?), a negative, nonsense, and more than the cap', () => {
    for (const text of ['7', '-7d', 'soon', '', '7x', 'd7', '7d12h']) {
      expect(parseGrace(text), text).to.have.property('error').that.includes('a duration like 7d, 12h, 30m or 0');
    }
    expect(parseGrace('31d')).to.have.property('error').that.includes('too long');
    expect(parseGrace('1y')).to.have.property('error').that.includes('at most 30 days');
  });

  it('formats a grace period for people', () => {
    expect(formatGrace(7 * DAY)).to.equal('7 days');
    expect(formatGrace(12 * HOUR)).to.equal('12 hours');
    expect(formatGrace(0)).to.equal('none');
  });
});
