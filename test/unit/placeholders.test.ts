import { describe, expect, test } from "bun:test";
import { parseArgs } from "../../src/config/cli-args.ts";
import { fillPlaceholders, findPlaceholders } from "../../src/jobdoc/placeholders.ts";

describe("service placeholders", () => {
  const doc = JSON.stringify({
    args: [
      "${aws:iot:parameter:url}",
      "${aws:iot:package:app:version:1.0:attributes:sha}",
      "${aws:iot:parameter:url}",
      "${notours}",
    ],
  });

  test("found once each, in order; other ${…} are not service placeholders", () => {
    expect(findPlaceholders(doc)).toEqual(["aws:iot:parameter:url", "aws:iot:package:app:version:1.0:attributes:sha"]);
  });

  test("filled by template-parameter key or by whole name, escaped for a JSON string", () => {
    const filled = fillPlaceholders(doc, [
      ["url", 'http://h/a "b"\\c'],
      ["aws:iot:package:app:version:1.0:attributes:sha", "abc"],
    ]);
    expect(JSON.parse(filled).args).toEqual(['http://h/a "b"\\c', "abc", 'http://h/a "b"\\c', "${notours}"]);
    expect(findPlaceholders(filled)).toEqual([]);
  });

  test("--param is exec's, repeatable, and needs KEY=VALUE", () => {
    const r = parseArgs(["exec", "f.json", "--param", "a=1", "--param", "b==2"]);
    expect(r.ok && r.args.params).toEqual([
      ["a", "1"],
      ["b", "=2"],
    ]);
    expect(parseArgs(["exec", "f.json", "--param", "=x"])).toEqual({ ok: false, message: "--param needs KEY=VALUE" });
    expect(parseArgs(["--param", "a=1"])).toMatchObject({ ok: false });
  });
});
