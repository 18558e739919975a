/**
 * The API's HTTP timeouts against the ALB's idle timeout
 * (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html):
 * a request that stalls is ended by the API (a 408 envelope) before the ALB's idle timeout
 * cuts the connection, and an idle keep-alive connection is closed by the ALB, never by the API.
 */
import { expect } from 'chai';
import { HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../../api/src/server.js';
import { ALB_IDLE_TIMEOUT_S } from '../edge.js';

describe('the API\'s timeouts and the ALB\'s', () => {
  it('ends a stalled request (headers, then the whole request) before the ALB\'s idle timeout', () => {
    expect(HEADERS_TIMEOUT_MS).to.be.at.most(REQUEST_TIMEOUT_MS);
    expect(REQUEST_TIMEOUT_MS).to.be.below(ALB_IDLE_TIMEOUT_S * 1000);
  });

  it('keeps idle connections longer than the ALB does', () => {
    expect(KEEP_ALIVE_TIMEOUT_MS).to.be.above(ALB_IDLE_TIMEOUT_S * 1000);
  });
});
