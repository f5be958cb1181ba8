/** Writes src/protocol/response-checks.generated.ts (see scripts/response-checkers.ts). */
import { join } from "node:path";
import { CHECKERS_FILE, renderResponseCheckers } from "./response-checkers.ts";

await Bun.write(join(import.meta.dir, "..", CHECKERS_FILE), renderResponseCheckers());
console.log(`wrote ${CHECKERS_FILE}`);
