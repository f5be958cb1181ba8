import { readFileSync } from "node:fs";
import { formatIssues } from "../jobdoc/job-document.ts";
import { parseJobDocument } from "../jobdoc/parse.ts";
import { findPlaceholders } from "../jobdoc/placeholders.ts";

/** `validate FILE...`: one line per file; exit 1 if any is invalid. */
export function validateCommand(files: readonly string[], out: (line: string) => void): number {
  let bad = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      out(`${file}: cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      bad++;
      continue;
    }
    const result = parseJobDocument(text);
    if (result.ok) {
      out(
        `${file}: OK (${result.document.schema === "old" ? "old schema" : `version ${result.document.schema}`}, ${result.document.steps.length + (result.document.finalStep ? 1 : 0)} step(s))`,
      );
      const unresolved = findPlaceholders(text);
      if (unresolved.length)
        out(
          `${file}: note: the service fills in ${unresolved.map((p) => `\${${p}}`).join(", ")}; exec needs --param for each`,
        );
    } else {
      out(`${file}: ${formatIssues(result.issues)}`);
      bad++;
    }
  }
  return bad === 0 ? 0 : 1;
}
