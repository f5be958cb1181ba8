/** The normalised job document the runner executes, whichever schema it came in. */

/** Runs a handler script: from a checked directory, or looked up on PATH. */
export interface HandlerAction {
  readonly kind: "handler";
  readonly handler: string;
  readonly args: readonly string[];
  /** `"default"`, a directory, or undefined (handler directory if it holds the name, else PATH). */
  readonly path: string | undefined;
}

/** Runs a command given as argv. */
export interface CommandAction {
  readonly kind: "command";
  readonly argv: readonly string[];
}

export interface Step {
  readonly name: string;
  readonly action: HandlerAction | CommandAction;
  /** Local user the step is for; undefined means the agent's own user. */
  readonly runAsUser: string | undefined;
  readonly ignoreStepFailure: boolean;
  /** Lines of stderr tolerated before the step fails; undefined means stderr never fails it. */
  readonly allowStdErr: number | undefined;
  /** New schema: the user is passed as `$1` ahead of args. Old schema: args start at `$1`. */
  readonly passUserArgument: boolean;
}

/** A job's `codesign` block: a signature over the artifact at `location` (src/signing). */
export interface CodeSign {
  readonly signature: string;
  readonly algorithm: string | undefined;
  readonly rawPayloadSize: number | undefined;
  readonly location: { readonly url: string } | { readonly file: string } | { readonly s3: unknown } | undefined;
}

export interface JobDocument {
  readonly schema: "1.0" | "old";
  readonly includeStdOut: boolean;
  /** Progress updates while it runs (`step`, the handler's entries): src/jobs/progress.ts. Old schema: false. */
  readonly reportProgress?: boolean;
  readonly steps: readonly Step[];
  readonly finalStep: Step | undefined;
  /** Parsed but not evaluated, as in the reference client. */
  readonly conditions: readonly { key: string; value: readonly string[]; type: string }[];
  /** Verified before any step when the device trusts signing keys (src/signing/job-signature.ts). */
  readonly codesign?: CodeSign;
}

/** A reason a document was refused, with the JSON path it concerns. */
export interface JobDocumentIssue {
  readonly path: string;
  readonly message: string;
}

export type ParseResult =
  | { readonly ok: true; readonly document: JobDocument }
  | { readonly ok: false; readonly issues: readonly [JobDocumentIssue, ...JobDocumentIssue[]] };

/** `steps[1].action.input.handler: required; version: ...` */
export function formatIssues(issues: readonly JobDocumentIssue[]): string {
  return issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join("; ");
}
