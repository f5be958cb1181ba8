/** How one step's process ended. */
export type StepExit =
  | { readonly kind: "exited"; readonly code: number }
  | { readonly kind: "signaled"; readonly signal: string }
  | { readonly kind: "timed-out"; readonly seconds: number }
  | { readonly kind: "canceled" }
  | { readonly kind: "refused"; readonly reason: string };

/** The `reason` text for a step's end, worded as in the specification's example [DC-JOBS-reason]. */
export function exitReason(exit: StepExit): string {
  switch (exit.kind) {
    case "exited":
      return `Exited with status: ${exit.code}`;
    case "signaled":
      return `Killed by signal: ${exit.signal}`;
    case "timed-out":
      return `Timed out after ${exit.seconds} s`;
    case "canceled":
      return "Canceled";
    case "refused":
      return exit.reason;
  }
}
