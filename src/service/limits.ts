/**
 * The service's limits in one place. Each says where its number comes from: AWS's documented
 * quota where there is one, otherwise our choice and why.
 */

/** The HTTP API. */
export const HTTP_LIMITS = {
  /**
   * AWS documents no request-size quota for these APIs. Ours: the largest legitimate body is
   * CreateJob's 32 KB document with its other members (a shadow update is at most 8 KB of state),
   * so 256 KB leaves room and stops a client from making the service hold megabytes. Counted while
   * the body streams, chunked or not: past it the request is answered 413 at once.
   */
  maxBodyBytes: 256 * 1024,
} as const;
