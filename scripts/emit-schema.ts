/** Writes schemas/job-document.schema.json (npm run schema). */
import { join } from "node:path";
import { renderJobDocumentSchema, SCHEMA_FILE } from "./job-document-schema.ts";

const file = join(import.meta.dir, "..", SCHEMA_FILE);
await Bun.write(file, renderJobDocumentSchema());
console.log(`wrote ${SCHEMA_FILE}`);
