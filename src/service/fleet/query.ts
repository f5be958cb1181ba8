/**
 * Fleet-indexing queries — the subset package roll-outs use (docs/LOCAL-SERVICE.md has the grammar):
 *
 *   query   := or
 *   or      := and ("OR" and)*
 *   and     := unary (["AND"] unary)*          (adjacent terms are ANDed)
 *   unary   := "NOT" unary | "(" or ")" | term
 *   term    := field ":" value | field ("<" | "<=" | ">" | ">=") number
 *
 * Fields: thingName, thingId, thingTypeName, thingGroupNames, attributes.<k>,
 * shadow.[desired|reported].<path>, shadow.name.<shadow>.[desired|reported].<path>; a `*`
 * segment matches any key. Values: `*` wildcards, `\` escapes (`telemetry\-agent`), "quotes".
 * Comparisons only on fields with an `attributes` segment, as AWS allows. Pure.
 */
import { AwsError } from "../aws-error.ts";

export type Query =
  | { kind: "and" | "or"; parts: Query[] }
  | { kind: "not"; part: Query }
  | { kind: "match"; field: string[]; pattern: RegExp; raw: string }
  | { kind: "compare"; field: string[]; op: "<" | "<=" | ">" | ">="; value: number };

/** What a query is evaluated against. */
export interface IndexedThing {
  readonly thingName: string;
  readonly thingId?: string;
  readonly thingTypeName?: string;
  readonly thingGroupNames: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
  /** Shadow name ("" = classic) → its state. */
  readonly shadows: ReadonlyMap<string, { desired?: Record<string, unknown>; reported?: Record<string, unknown> }>;
}

const bad = (message: string) => new AwsError("InvalidQueryException", message);

interface Token {
  text: string;
  /** Parentheses and keywords only count unescaped. */
  kind: "word" | "(" | ")";
}

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "(" || c === ")") {
      tokens.push({ text: c, kind: c });
      i++;
      continue;
    }
    let text = "";
    let quoted = false;
    while (i < input.length) {
      const ch = input[i]!;
      if (ch === "\\") {
        if (i + 1 >= input.length) throw bad("The query ends with a lone backslash");
        text += "\\" + input[i + 1]!;
        i += 2;
        continue;
      }
      if (ch === '"') {
        quoted = !quoted;
        text += ch;
        i++;
        continue;
      }
      if (!quoted && (/\s/.test(ch) || ch === "(" || ch === ")")) break;
      text += ch;
      i++;
    }
    if (quoted) throw bad("Unterminated quote in the query");
    tokens.push({ text, kind: "word" });
  }
  return tokens;
}

/** Splits `a.b\.c` on unescaped dots, removing the escapes. */
function splitField(field: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < field.length; i++) {
    const ch = field[i]!;
    if (ch === "\\" && i + 1 < field.length) current += field[++i]!;
    else if (ch === ".") (parts.push(current), (current = ""));
    else current += ch;
  }
  parts.push(current);
  if (parts.some((p) => p === "")) throw bad(`Field ${JSON.stringify(field)} has an empty segment`);
  return parts;
}

/** Value → anchored regex: `*` any run, `\x` literal x, quotes removed. */
function valuePattern(value: string): RegExp {
  let source = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === "\\" && i + 1 < value.length) source += escapeRegex(value[++i]!);
    else if (ch === "*") source += "[\\s\\S]*";
    else if (ch === '"') continue;
    else source += escapeRegex(ch);
  }
  return new RegExp(`^${source}$`);
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

function parseTerm(text: string): Query {
  // The first unescaped operator splits field from value.
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "\\") {
      i++;
      continue;
    }
    if (ch === ":" || ch === "<" || ch === ">") {
      const field = splitField(text.slice(0, i));
      if (ch === ":") {
        const raw = text.slice(i + 1);
        if (raw === "") throw bad(`Term ${JSON.stringify(text)} has no value`);
        return { kind: "match", field, pattern: valuePattern(raw), raw };
      }
      const op = (text[i + 1] === "=" ? `${ch}=` : ch) as "<" | "<=" | ">" | ">=";
      const number = Number(text.slice(i + op.length));
      if (text.slice(i + op.length) === "" || !Number.isFinite(number)) throw bad(`Comparison ${JSON.stringify(text)} needs a number`);
      if (!field.includes("attributes")) throw bad(`Range comparison is only supported on attribute fields, not ${field.join(".")}`);
      return { kind: "compare", field, op, value: number };
    }
  }
  throw bad(`Term ${JSON.stringify(text)} is not field:value`);
}

export function parseQuery(input: string): Query {
  if (input.trim() === "") throw bad("The query string is empty");
  const tokens = tokenize(input);
  let at = 0;
  const peek = () => tokens[at];
  const isWord = (t: Token | undefined, w: string) => t?.kind === "word" && t.text === w;

  const parseOr = (): Query => {
    const parts = [parseAnd()];
    while (isWord(peek(), "OR")) {
      at++;
      parts.push(parseAnd());
    }
    return parts.length === 1 ? parts[0]! : { kind: "or", parts };
  };
  const parseAnd = (): Query => {
    const parts = [parseUnary()];
    for (;;) {
      const t = peek();
      if (!t || t.kind === ")" || isWord(t, "OR")) break;
      if (isWord(t, "AND")) at++;
      parts.push(parseUnary());
    }
    return parts.length === 1 ? parts[0]! : { kind: "and", parts };
  };
  const parseUnary = (): Query => {
    const t = tokens[at++];
    if (!t) throw bad("The query ends where a term was expected");
    if (isWord(t, "NOT")) return { kind: "not", part: parseUnary() };
    if (t.kind === "(") {
      const inner = parseOr();
      if (tokens[at++]?.kind !== ")") throw bad("Unbalanced parentheses in the query");
      return inner;
    }
    if (t.kind === ")") throw bad("Unbalanced parentheses in the query");
    if (isWord(t, "AND") || isWord(t, "OR")) throw bad(`${t.text} needs a term on both sides`);
    return parseTerm(t.text);
  };

  const query = parseOr();
  if (at < tokens.length) throw bad("Unbalanced parentheses in the query");
  return query;
}

/** Every value a field path reaches on a thing (a `*` segment fans out). */
function valuesAt(thing: IndexedThing, field: string[]): unknown[] {
  const [head, ...rest] = field;
  switch (head) {
    case "thingName":
      return rest.length ? [] : [thing.thingName];
    case "thingId":
      return rest.length || !thing.thingId ? [] : [thing.thingId];
    case "thingTypeName":
      return rest.length || !thing.thingTypeName ? [] : [thing.thingTypeName];
    case "thingGroupNames":
      return rest.length ? [] : [...thing.thingGroupNames];
    case "attributes":
      return walk(thing.attributes, rest);
    case "shadow": {
      if (rest[0] === "name") {
        const [, shadowName, ...path] = rest;
        if (shadowName === undefined) return [];
        const names = shadowName === "*" ? [...thing.shadows.keys()].filter((n) => n !== "") : [shadowName];
        return names.flatMap((n) => walk(thing.shadows.get(n) ?? {}, path));
      }
      return walk(thing.shadows.get("") ?? {}, rest);
    }
    default:
      return [];
  }
}

function walk(node: unknown, path: string[]): unknown[] {
  if (path.length === 0) return node === undefined || node === null ? [] : Array.isArray(node) ? node : [node];
  if (node === null || typeof node !== "object") return [];
  const [key, ...rest] = path;
  const record = node as Record<string, unknown>;
  if (key === "*") return Object.values(record).flatMap((v) => walk(v, rest));
  return walk(record[key!], rest);
}

export function matches(query: Query, thing: IndexedThing): boolean {
  switch (query.kind) {
    case "and":
      return query.parts.every((p) => matches(p, thing));
    case "or":
      return query.parts.some((p) => matches(p, thing));
    case "not":
      return !matches(query.part, thing);
    case "match":
      return valuesAt(thing, query.field).some((v) => (typeof v === "string" || typeof v === "number" || typeof v === "boolean") && query.pattern.test(String(v)));
    case "compare":
      return valuesAt(thing, query.field).some((v) => {
        const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
        if (!Number.isFinite(n)) return false;
        return query.op === "<" ? n < query.value : query.op === "<=" ? n <= query.value : query.op === ">" ? n > query.value : n >= query.value;
      });
  }
}
