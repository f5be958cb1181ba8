import { describe, expect, test } from "bun:test";
import { parseJobDocument } from "../../src/jobdoc/parse.ts";
import { groupsFromFile } from "../../src/runner/user-lookup.ts";

describe("found by the review of the issue 10 fixes", () => {
  test("runAsUser without `id` on PATH: the supplementary groups come from /etc/group", () => {
    const text = "root:x:0:\nadm:x:4:syslog,rtuser\nvideo:x:44:rtuser\nrtuser:x:1001:\nother:x:50:rtuserx,xrtuser\n";
    expect(groupsFromFile(text, "rtuser")).toEqual([4, 44]);
    expect(groupsFromFile("garbage\n::\n", "rtuser")).toEqual([]);
  });

  test("a NUL in a runCommand is refused by validation, not at every run", () => {
    const r = parseJobDocument(
      JSON.stringify({
        version: "1.0",
        steps: [{ action: { name: "a", type: "runCommand", input: { command: "\u0000,x" } } }],
      }),
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map((i) => i.message).join(" ")).toContain("must not contain a NUL character");
  });
});
