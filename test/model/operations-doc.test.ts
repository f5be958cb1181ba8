/** docs/LOCAL-SERVICE.md's operations table is what the model and the router say today. */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { DOC, withTable } from "../../scripts/api-model/operations-doc.ts";

test("the operations table in docs/LOCAL-SERVICE.md is in sync with the model and the router", () => {
  const doc = readFileSync(DOC, "utf8");
  // On failure: bun scripts/api-model/operations-doc.ts
  expect(withTable(doc)).toBe(doc);
});
