/**
 * valibot schemas for the two job document schemas of the AWS IoT Device Client
 * [DC-JOBS-schema]. This file is the only one that imports valibot for job documents.
 * Messages are short and read after a path: `steps[1].action.input.handler: required`.
 */
import * as v from "valibot";
import { hasWhitespace, splitCommand } from "./split-command.ts";

/** The one new-schema version the specification processes. */
export const SUPPORTED_VERSION = "1.0";

const nonEmptyString = v.pipe(v.string("expected a string"), v.minLength(1, "must not be empty"));

/** `true`/`false`, or the strings the reference insists on [DC-JOBS-booleans]. */
const booleanLike = v.pipe(
  v.union([v.boolean(), v.picklist(["true", "false"])], 'expected true, false, "true" or "false"'),
  v.transform((value) => value === true || value === "true"),
);

const allowStdErr = v.pipe(
  v.number("expected a whole number"),
  v.integer("expected a whole number"),
  v.minValue(0, "must not be negative"),
);

const stringArray = v.array(v.string("expected a string"), "expected an array of strings");

const command = v.pipe(
  v.string("expected a string"),
  v.check((text) => splitCommand(text).some((t) => t !== ""), "must name a command"),
  v.check(
    (text) => splitCommand(text).every((t) => t === "") || splitCommand(text)[0] !== "",
    "the first word (the program) must not be empty",
  ),
  v.check(
    (text) => !hasWhitespace(splitCommand(text)[0] ?? ""),
    "the first word must not contain whitespace; separate words with commas",
  ),
  // No program or argument can hold a NUL byte (execve's strings end there).
  v.check((text) => !text.includes("\u0000"), "must not contain a NUL character"),
);

const actionCommon = {
  name: nonEmptyString,
  runAsUser: v.optional(v.string("expected a string")),
  ignoreStepFailure: v.optional(booleanLike),
  allowStdErr: v.optional(allowStdErr),
};

const handlerAction = v.looseObject(
  {
    ...actionCommon,
    type: v.literal("runHandler"),
    input: v.looseObject(
      {
        handler: nonEmptyString,
        args: v.optional(stringArray),
        path: v.optional(v.string("expected a string")),
      },
      "expected an object",
    ),
  },
  "expected an object",
);

const commandAction = v.looseObject(
  {
    ...actionCommon,
    type: v.literal("runCommand"),
    input: v.looseObject({ command }, "expected an object"),
  },
  "expected an object",
);

const action = v.variant("type", [handlerAction, commandAction], 'expected "runHandler" or "runCommand"');

const step = v.looseObject({ action }, "expected an object");

const condition = v.looseObject(
  {
    key: nonEmptyString,
    value: v.pipe(stringArray, v.minLength(1, "must not be empty")),
    type: v.optional(v.string("expected a string")),
  },
  "expected an object",
);

/**
 * AWS's code-signing block (design: the job carries the signature, the device verifies it with a
 * key it already trusts). `payloadLocation.url` (a pre-signed URL) or `.file` (a path on the
 * device) is where the agent reads the artifact; AWS's `s3` form is kept for the error message.
 */
const codesign = v.looseObject(
  {
    signature: nonEmptyString,
    signatureAlgorithm: v.optional(v.string("expected a string")),
    rawPayloadSize: v.optional(allowStdErr),
    payloadLocation: v.looseObject(
      {
        url: v.optional(
          v.pipe(v.string("expected a string"), v.regex(/^https?:\/\//i, "expected an http:// or https:// URL")),
        ),
        file: v.optional(v.pipe(v.string("expected a string"), v.startsWith("/", "expected an absolute path"))),
        s3: v.optional(v.unknown()),
      },
      "expected an object",
    ),
  },
  "expected an object",
);

/** The new ("1.0") schema. */
export const newSchemaDocument = v.looseObject(
  {
    version: v.pipe(
      v.string(`expected the string "${SUPPORTED_VERSION}"`),
      v.check(
        (value) => value === SUPPORTED_VERSION,
        (issue) => `unsupported version ${JSON.stringify(issue.input)}; this agent supports "${SUPPORTED_VERSION}"`,
      ),
    ),
    includeStdOut: v.optional(booleanLike),
    reportProgress: v.optional(booleanLike),
    conditions: v.optional(v.array(condition, "expected an array")),
    steps: v.pipe(v.array(step, "expected an array of steps"), v.minLength(1, "at least one step is required")),
    finalStep: v.optional(step),
    codesign: v.optional(codesign),
  },
  "expected a JSON object",
);

/** The old schema: one operation with args. */
export const oldSchemaDocument = v.looseObject(
  {
    operation: nonEmptyString,
    args: v.optional(stringArray),
    path: v.optional(v.string("expected a string")),
    allowStdErr: v.optional(allowStdErr),
    includeStdOut: v.optional(booleanLike),
  },
  "expected a JSON object",
);

export type NewSchemaInput = v.InferOutput<typeof newSchemaDocument>;
export type OldSchemaInput = v.InferOutput<typeof oldSchemaDocument>;
export type ActionInput = v.InferOutput<typeof action>;
