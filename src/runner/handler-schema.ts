/**
 * The Device Client ships two handler sets: new-schema handlers take the runAsUser value as `$1`
 * (`user=$1; shift`), old-schema ones read their arguments from `$1`. An old-schema document run
 * with a new-schema handler shifts every argument by one — "install a b" installs only b — and
 * still SUCCEEDS. Nothing in the Device Client says so; the agent warns (docs/SWITCHING.md).
 * Handlers that read IOT_JOBS_USER_ARG (ours) serve both schemas. Pure over the handler's text.
 */

/** How much of a handler is read to recognise it (its first lines say how it reads `$1`). */
export const HANDLER_HEAD_BYTES = 4096;

const TAKES_USER_AS_FIRST = /^\s*user=["']?\$\{?1\}?["']?\s*(?:#.*)?$/m;

/** A warning when an old-schema document runs a handler written for the new schema, else undefined. */
export function handlerSchemaMismatch(handler: string, head: string, passUserArgument: boolean): string | undefined {
  if (passUserArgument || head.includes("IOT_JOBS_USER_ARG") || !TAKES_USER_AS_FIRST.test(head)) return undefined;
  return (
    `Handler ${handler} takes the user as $1 (a handler for the "1.0" schema) but this document uses the old schema, ` +
    "which passes the arguments from $1: every argument shifts by one. Use the old-schema handler set for " +
    "old-schema documents (docs/SWITCHING.md)"
  );
}
