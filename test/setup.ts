// Preloaded by bunfig.toml for every test run: removes the temporary directories tests made.
import { afterAll } from "bun:test";
import { removeTempDirs } from "./helpers/temp.ts";

afterAll(removeTempDirs);
