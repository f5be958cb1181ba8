/**
 * The Jobs responses the agent reads, decoded with checkers TypeBox compiled at build time
 * (response-checks.generated.ts, from the schemas in messages.ts): the agent loads no TypeBox.
 */
import { isExecutionResponse, isRejectedResponse, isUpdateAcceptedResponse } from "./response-checks.generated.ts";

export { isExecutionResponse, isRejectedResponse, isUpdateAcceptedResponse };

const decoder = new TextDecoder();

/** The payload as T, or undefined for bad JSON or a shape that does not match. Never throws. */
export function decodeResponse<T>(check: (value: unknown) => value is T, payload: Uint8Array | string): T | undefined {
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === "string" ? payload : decoder.decode(payload));
  } catch {
    return undefined;
  }
  return check(value) ? value : undefined;
}
