import { describe, expect, test } from "bun:test";
import { hasWhitespace, splitCommand } from "../../src/jobdoc/split-command.ts";

describe("splitCommand [DC-JOBS-runCommand]", () => {
  test("splits on commas", () => expect(splitCommand("echo,Hello World!")).toEqual(["echo", "Hello World!"]));
  test("an escaped comma does not split and is unescaped", () =>
    expect(splitCommand("echo,Hello\\, I am Device Client.")).toEqual(["echo", "Hello, I am Device Client."]));
  test("empty tokens between commas vanish", () => expect(splitCommand(",a,,b,")).toEqual(["a", "b"]));
  test("whitespace-only tokens become empty strings and are kept", () =>
    expect(splitCommand("a, ,b")).toEqual(["a", "", "b"]));
  test("tokens are trimmed of C whitespace", () =>
    expect(splitCommand(" \n echo \t, Hello World ")).toEqual(["echo", "Hello World"]));
  test("a first word with a space is detectable", () =>
    expect(hasWhitespace(splitCommand(" aws iot \t,describe-endpoint")[0]!)).toBe(true));
  test("the reference's SplitStringByComma example", () =>
    expect(splitCommand("hello,world\\,!")).toEqual(["hello", "world,!"]));
});
