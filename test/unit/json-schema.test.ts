import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderJobDocumentSchema, SCHEMA_FILE } from "../../scripts/job-document-schema.ts";
import { REPO_ROOT } from "../helpers/temp.ts";

describe("published JSON Schema", () => {
  test("schemas/job-document.schema.json is what the code generates (run `npm run schema` after changing the schema)", () => {
    expect(readFileSync(join(REPO_ROOT, SCHEMA_FILE), "utf8")).toBe(renderJobDocumentSchema());
  });
  test("it requires version 1.0 and steps, and knows both step types", () => {
    const schema = JSON.parse(renderJobDocumentSchema());
    expect(schema.required).toEqual(["version", "steps"]);
    expect(schema.properties.version.const).toBe("1.0");
    const types = schema.properties.steps.items.properties.action.oneOf.map((a: any) => a.properties.type.const);
    expect(types).toEqual(["runHandler", "runCommand"]);
  });
});
