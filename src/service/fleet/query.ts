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
 *
 * Bounded (QUERY_LIMITS): length, terms, leading wildcards as AWS documents them, and nesting, so
 * parsing and the recursive evaluation below never go deeper than `maxNesting`. Values match with
 * a linear-time glob (glob.ts), never a regex.
 */
import { ServiceError } from "../errors.ts";
import { QUERY_LIMITS } from "../limits.ts";
import { compileGlob, type Glob, globMatches } from "./glob.ts";

export type Query =
  | { kind: "and" | "or"; parts: Query[] }
  | { kind: "not"; part: Query }
  | { kind: "match"; field: string[]; glob: Glob; raw: string }
  | { kind: "compare"; field: string[]; op: "<" | "<=" | ">" | ">="; value: number }
  | { kind: "nothing" };

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

export type CompileResult = { ok: true; query: Query } | { ok: false; error: ServiceError };

/** A query that matches no thing: what a stored query that is no longer valid becomes. */
export const MATCHES_NOTHING: Query = { kind: "nothing" };

const bad = (message: string) => new ServiceError("InvalidQuery", message);

interface Token {
  text: string;
  /** Parentheses and keywords only count unescaped. */
  kind: "word" | "(" | ")";
}

const isSpace = (c: string) => /\s/.test(c);

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (isSpace(c)) {
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
      if (!quoted && (isSpace(ch) || ch === "(" || ch === ")")) break;
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
    else if (ch === ".") parts.push(current), (current = "");
    else current += ch;
  }
  parts.push(current);
  if (parts.some((p) => p === "")) throw bad(`Field ${JSON.stringify(field)} has an empty segment`);
  return parts;
}

/** A value's literal segments between unescaped `*`s (`\x` is a literal x; quotes removed). */
function valueSegments(value: string): string[] {
  const segments: string[] = [];
  let current = "";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === "\\" && i + 1 < value.length) current += value[++i]!;
    else if (ch === "*") segments.push(current), (current = "");
    else if (ch !== '"') current += ch;
  }
  segments.push(current);
  return segments;
}

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
        return { kind: "match", field, glob: compileGlob(valueSegments(raw)), raw };
      }
      const op = (text[i + 1] === "=" ? `${ch}=` : ch) as "<" | "<=" | ">" | ">=";
      const number = Number(text.slice(i + op.length));
      if (text.slice(i + op.length) === "" || !Number.isFinite(number))
        throw bad(`Comparison ${JSON.stringify(text)} needs a number`);
      if (!field.includes("attributes"))
        throw bad(`Range comparison is only supported on attribute fields, not ${field.join(".")}`);
      return { kind: "compare", field, op, value: number };
    }
  }
  throw bad(`Term ${JSON.stringify(text)} is not field:value`);
}

/** `*abc`: a wildcard before literal text (a lone `*`, "anything", is not one). */
const hasLeadingWildcard = (q: Query) =>
  q.kind === "match" &&
  q.glob.segments.length > 1 &&
  q.glob.segments[0] === "" &&
  q.glob.segments.some((s) => s !== "");

/** Parses and checks a query against QUERY_LIMITS; never throws. */
export function compileQuery(input: string): CompileResult {
  try {
    return { ok: true, query: parse(input) };
  } catch (error) {
    if (error instanceof ServiceError) return { ok: false, error };
    // Nothing else is expected; a bug must still answer InvalidQuery, never a 500.
    return { ok: false, error: bad(`The query cannot be parsed: ${(error as Error).message}`) };
  }
}

/** As compileQuery, throwing the InvalidQuery ServiceError (for request handlers). */
export function parseQuery(input: string): Query {
  const result = compileQuery(input);
  if (!result.ok) throw result.error;
  return result.query;
}

/** A query read back from the store: one that no longer passes (an older version accepted it)
 * matches nothing instead of failing every write that re-evaluates it. The service logs these
 * at start (`compileQuery` says why). */
export function storedQuery(input: string): Query {
  const result = compileQuery(input);
  return result.ok ? result.query : MATCHES_NOTHING;
}

function parse(input: string): Query {
  if (input.trim() === "") throw bad("The query string is empty");
  if (input.length > QUERY_LIMITS.maxLength)
    throw bad(`The query string is longer than ${QUERY_LIMITS.maxLength} characters`);
  const tokens = tokenize(input);
  let at = 0;
  let terms = 0;
  let leadingWildcards = 0;
  const peek = () => tokens[at];
  const isWord = (t: Token | undefined, w: string) => t?.kind === "word" && t.text === w;

  // Recursion is bounded by `depth` (NOT and parentheses), checked before each descent.
  const parseOr = (depth: number): Query => {
    const parts = [parseAnd(depth)];
    while (isWord(peek(), "OR")) {
      at++;
      parts.push(parseAnd(depth));
    }
    return parts.length === 1 ? parts[0]! : { kind: "or", parts };
  };
  const parseAnd = (depth: number): Query => {
    const parts = [parseUnary(depth)];
    for (;;) {
      const t = peek();
      if (!t || t.kind === ")" || isWord(t, "OR")) break;
      if (isWord(t, "AND")) at++;
      parts.push(parseUnary(depth));
    }
    return parts.length === 1 ? parts[0]! : { kind: "and", parts };
  };
  const deeper = (depth: number): number => {
    if (depth + 1 > QUERY_LIMITS.maxNesting)
      throw bad(`The query nests NOT and parentheses more than ${QUERY_LIMITS.maxNesting} deep`);
    return depth + 1;
  };
  const parseUnary = (depth: number): Query => {
    const t = tokens[at++];
    if (!t) throw bad("The query ends where a term was expected");
    if (isWord(t, "NOT")) return { kind: "not", part: parseUnary(deeper(depth)) };
    if (t.kind === "(") {
      const inner = parseOr(deeper(depth));
      if (tokens[at++]?.kind !== ")") throw bad("Unbalanced parentheses in the query");
      return inner;
    }
    if (t.kind === ")") throw bad("Unbalanced parentheses in the query");
    if (isWord(t, "AND") || isWord(t, "OR")) throw bad(`${t.text} needs a term on both sides`);
    if (++terms > QUERY_LIMITS.maxTerms) throw bad(`The query has more than ${QUERY_LIMITS.maxTerms} terms`);
    const term = parseTerm(t.text);
    if (hasLeadingWildcard(term)) {
      if (++leadingWildcards > QUERY_LIMITS.maxLeadingWildcardTerms)
        throw bad("A leading wildcard may be used in only one term per query");
      if (input.length > QUERY_LIMITS.maxLengthWithLeadingWildcard)
        throw bad(
          `A query with a leading wildcard may be at most ${QUERY_LIMITS.maxLengthWithLeadingWildcard} characters`,
        );
    }
    return term;
  };

  const query = parseOr(0);
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
    case "nothing":
      return false;
    case "match":
      return valuesAt(thing, query.field).some(
        (v) =>
          (typeof v === "string" || typeof v === "number" || typeof v === "boolean") &&
          globMatches(query.glob, String(v)),
      );
    case "compare":
      return valuesAt(thing, query.field).some((v) => {
        const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
        if (!Number.isFinite(n)) return false;
        return query.op === "<"
          ? n < query.value
          : query.op === "<="
            ? n <= query.value
            : query.op === ">"
              ? n > query.value
              : n >= query.value;
      });
  }
}
