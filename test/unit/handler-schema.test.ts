import { describe, expect, test } from "bun:test";
import { handlerSchemaMismatch } from "../../src/runner/handler-schema.ts";
import { runJob } from "../../src/runner/run-job.ts";
import { parsed, testRunContext } from "../helpers/run-context.ts";
import { tempDir, writeHandler } from "../helpers/temp.ts";

// Issue 17: an old-schema document with the new-schema handler set installs one package of two and
// reports SUCCEEDED; the agent now says why in its log.
const NEW_SCHEMA_HANDLER = '#!/bin/sh\nset -e\nuser=$1\nshift 1\npackages=$@\nprintf "[%s]" $packages\n';
const OLD_SCHEMA_HANDLER = '#!/bin/sh\nset -e\nprintf "[%s]" "$@"\n';
const OURS = '#!/bin/sh\nif [ "${IOT_JOBS_USER_ARG:-1}" = 1 ]; then user=$1; shift; fi\nprintf "[%s]" "$@"\n';

describe("handler set vs document schema", () => {
  test("an old-schema document with a handler that takes the user as $1 is named; the right pairs are not", () => {
    expect(handlerSchemaMismatch("install-packages.sh", NEW_SCHEMA_HANDLER, false)).toContain(
      "every argument shifts by one",
    );
    expect(handlerSchemaMismatch("install-packages.sh", NEW_SCHEMA_HANDLER, true)).toBeUndefined();
    expect(handlerSchemaMismatch("install-packages.sh", OLD_SCHEMA_HANDLER, false)).toBeUndefined();
    expect(handlerSchemaMismatch("install-packages.sh", OURS, false)).toBeUndefined();
    expect(handlerSchemaMismatch("x.sh", '#!/bin/sh\nuser="${1}"  # who runs it\n', false)).toBeDefined();
  });

  test("the runner warns before running it (the job itself behaves as before)", async () => {
    const dir = tempDir();
    writeHandler(dir, "install-packages.sh", NEW_SCHEMA_HANDLER);
    const warnings: string[] = [];
    const out = await runJob(
      parsed({ operation: "install-packages.sh", args: ["a", "b"], path: "default", includeStdOut: true }),
      {
        ...testRunContext(dir),
        onWarning: (m) => warnings.push(m),
      },
    );
    expect(out.statusDetails.stdout).toBe("[b]"); // what the mismatch does: "a" became the user
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toStartWith("Handler install-packages.sh takes the user as $1");
  });
});
