/**
 * The service's size limits in one place. Each says what it bounds and why that number.
 */

/**
 * HTTP request bodies larger than this are refused while they stream in, chunked or not: the
 * largest legitimate body is CreateJob's 32 KB document plus its other members (a shadow update is
 * at most 8 KB of state). The connection is answered 413 as soon as the count passes the limit.
 */
export const MAX_HTTP_BODY_BYTES = 256 * 1024;
