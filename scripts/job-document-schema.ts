/**
 * The JSON Schema of the new ("1.0") job document schema, generated from the valibot schema the
 * agent validates with, so the two cannot drift apart (a test checks the published file).
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import { newSchemaDocument, SUPPORTED_VERSION } from "../src/jobdoc/schema.ts";

export const SCHEMA_FILE = "schemas/job-document.schema.json";

export function jobDocumentJsonSchema(): Record<string, unknown> {
  // Checks (version value, command words) have no JSON Schema form; version's is restated as a const.
  const generated = toJsonSchema(newSchemaDocument, { errorMode: "ignore" }) as Record<string, any>;
  generated.properties.version = {
    type: "string",
    const: SUPPORTED_VERSION,
    description: 'Job document schema version; only "1.0" is processed.',
  };
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "AWS IoT Device Client job document (schema version 1.0), as iot-jobs-agent accepts it",
    ...Object.fromEntries(Object.entries(generated).filter(([k]) => k !== "$schema")),
  };
}

export function renderJobDocumentSchema(): string {
  return `${JSON.stringify(jobDocumentJsonSchema(), null, 2)}\n`;
}
