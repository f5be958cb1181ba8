/**
 * AWS IoT policies: parsing (what CreatePolicy refuses as MalformedPolicyException) and
 * evaluation of one action on one resource (pure). AWS's rules: an explicit Deny wins, then any
 * Allow, otherwise denied; `*` and `?` are policy wildcards while MQTT's `+` and `#` are literal
 * characters in a resource; `${…}` policy variables are substituted first, and a statement
 * whose resource holds a variable that cannot be resolved (`${iot:Connection.Thing.ThingName}`
 * when the client id is not a thing attached to the certificate) matches nothing.
 *
 * Beyond AWS: every decision says which statement decided it, or, when none did, which
 * statements for the action were tried and why they missed (a resource that is no iot ARN, an
 * unresolved variable) — the one line that answers "why was my device refused?".
 */
import { ServiceError } from "../errors.ts";

export type IotAction = "iot:Connect" | "iot:Publish" | "iot:Subscribe" | "iot:Receive";

/** What a connection's policy variables resolve to. */
export interface PolicyContext {
  readonly clientId: string;
  /** The thing the client id names, when that thing is attached to the certificate. */
  readonly thing?: {
    readonly thingName: string;
    readonly thingTypeName?: string;
    readonly attributes: Readonly<Record<string, string>>;
  };
}

interface Statement {
  readonly sid?: string;
  readonly effect: "Allow" | "Deny";
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly conditions: readonly Condition[];
}

interface Condition {
  readonly operator: string;
  readonly key: string;
  readonly values: readonly string[];
}

export interface ParsedPolicy {
  readonly statements: readonly Statement[];
}

export interface NamedPolicy {
  readonly name: string;
  readonly policy: ParsedPolicy;
}

export interface Decision {
  readonly allowed: boolean;
  /** One line: the statement that decided, or the absence of one and why the candidates missed. */
  readonly reason: string;
}

const OPERATORS = new Set(["StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "Bool"]);
const malformed = (message: string): never => {
  throw new ServiceError("MalformedPolicy", message);
};
const list = (value: unknown, what: string): string[] => {
  const items = typeof value === "string" ? [value] : value;
  if (!Array.isArray(items) || items.length === 0 || !items.every((v) => typeof v === "string"))
    return malformed(`${what} must be a string or a non-empty list of strings`);
  return items;
};

/** The policy document as CreatePolicy accepts it; MalformedPolicyException otherwise. */
export function parsePolicy(text: string): ParsedPolicy {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return malformed("The policy document is not valid JSON");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return malformed("The policy must be an object");
  const { Version, Statement } = doc as Record<string, unknown>;
  if (Version !== undefined && Version !== "2012-10-17" && Version !== "2008-10-17")
    malformed(`Unsupported policy Version ${JSON.stringify(Version)}`);
  const raw = Array.isArray(Statement)
    ? Statement
    : Statement === undefined
      ? malformed("Statement is missing")
      : [Statement];
  const statements = raw.map((s: unknown, i: number): Statement => {
    if (typeof s !== "object" || s === null) return malformed(`Statement ${i} must be an object`);
    const st = s as Record<string, unknown>;
    for (const k of ["NotAction", "NotResource", "Principal", "NotPrincipal"])
      if (k in st) malformed(`Statement ${i}: ${k} is not supported in AWS IoT policies here`);
    if (st.Effect !== "Allow" && st.Effect !== "Deny") malformed(`Statement ${i}: Effect must be Allow or Deny`);
    const conditions: Condition[] = [];
    if (st.Condition !== undefined) {
      if (typeof st.Condition !== "object" || st.Condition === null) malformed(`Statement ${i}: Condition`);
      for (const [operator, block] of Object.entries(st.Condition as Record<string, unknown>)) {
        if (!OPERATORS.has(operator)) malformed(`Statement ${i}: condition operator ${operator} is not supported`);
        if (typeof block !== "object" || block === null) malformed(`Statement ${i}: Condition.${operator}`);
        for (const [key, values] of Object.entries(block as Record<string, unknown>))
          conditions.push({ operator, key, values: list(values, `Statement ${i}: Condition.${operator}.${key}`) });
      }
    }
    return {
      ...(typeof st.Sid === "string" ? { sid: st.Sid } : {}),
      effect: st.Effect as "Allow" | "Deny",
      actions: list(st.Action, `Statement ${i}: Action`),
      resources: list(st.Resource, `Statement ${i}: Resource`),
      conditions,
    };
  });
  return { statements };
}

type Token = { readonly literal: string } | "*" | "?";

/**
 * A resource pattern with its variables substituted: tokens, or the name of the first variable
 * that could not be resolved. `${*}`, `${?}` and `${$}` are AWS's escapes for the literal characters.
 */
function substitute(pattern: string, ctx: PolicyContext): { tokens: Token[] } | { unresolved: string } {
  const tokens: Token[] = [];
  let literal = "";
  const flush = () => {
    if (literal) tokens.push({ literal });
    literal = "";
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "$" && pattern[i + 1] === "{") {
      const end = pattern.indexOf("}", i + 2);
      if (end < 0) {
        literal += c;
        continue;
      }
      const name = pattern.slice(i + 2, end);
      const value = name === "*" || name === "?" || name === "$" ? name : variable(name, ctx);
      if (value === undefined) return { unresolved: name };
      literal += value;
      i = end;
    } else if (c === "*" || c === "?") {
      flush();
      tokens.push(c);
    } else literal += c;
  }
  flush();
  return { tokens };
}

function variable(name: string, ctx: PolicyContext): string | undefined {
  if (name === "iot:ClientId") return ctx.clientId;
  if (name === "iot:Connection.Thing.IsAttached") return ctx.thing ? "true" : "false";
  if (name === "iot:Connection.Thing.ThingName") return ctx.thing?.thingName;
  if (name === "iot:Connection.Thing.ThingTypeName") return ctx.thing?.thingTypeName;
  const attribute = /^iot:Connection\.Thing\.Attributes\[(.+)\]$/.exec(name);
  if (attribute) return ctx.thing?.attributes[attribute[1]!];
  return undefined;
}

/** Wildcard match: `*` any run (slashes included), `?` one character. Backtracks only to the last `*`. */
function matches(tokens: readonly Token[], text: string, ignoreCase = false): boolean {
  const chars: (string | "*" | "?")[] = [];
  for (const t of tokens) {
    if (t === "*" || t === "?") chars.push(t === "*" ? "\u0000*" : "\u0000?");
    else for (const ch of ignoreCase ? t.literal.toLowerCase() : t.literal) chars.push(ch);
  }
  const s = ignoreCase ? text.toLowerCase() : text;
  let p = 0;
  let i = 0;
  let star = -1;
  let mark = 0;
  while (i < s.length) {
    if (p < chars.length && (chars[p] === "\u0000?" || chars[p] === s[i])) {
      p++;
      i++;
    } else if (p < chars.length && chars[p] === "\u0000*") {
      star = p++;
      mark = i;
    } else if (star >= 0) {
      p = star + 1;
      i = ++mark;
    } else return false;
  }
  while (p < chars.length && chars[p] === "\u0000*") p++;
  return p === chars.length;
}

const actionMatches = (pattern: string, action: IotAction) => {
  const sub = substitute(pattern, { clientId: "" });
  return "tokens" in sub && matches(sub.tokens, action, true);
};

function conditionHolds(c: Condition, ctx: PolicyContext): boolean {
  const actual = variable(c.key, ctx);
  if (actual === undefined) return c.operator.includes("Not");
  const expected = c.values.map((v) => substitute(v, ctx));
  const equal = (e: (typeof expected)[number]) =>
    "tokens" in e &&
    e.tokens.every((t) => typeof t === "object") &&
    e.tokens.map((t) => (t as { literal: string }).literal).join("") === actual;
  switch (c.operator) {
    case "StringEquals":
      return expected.some(equal);
    case "StringNotEquals":
      return !expected.some(equal);
    case "StringLike":
      return expected.some((e) => "tokens" in e && matches(e.tokens, actual));
    case "StringNotLike":
      return !expected.some((e) => "tokens" in e && matches(e.tokens, actual));
    case "Bool":
      return expected.some((e) => "tokens" in e && equal(e));
    default:
      return false;
  }
}

const where = (p: NamedPolicy, i: number) => {
  const sid = p.policy.statements[i]?.sid;
  return `policy ${p.name} statement ${i}${sid ? ` (${sid})` : ""}`;
};

/** Why a resource pattern cannot match any resource of this action. */
function hint(pattern: string, action: IotAction): string {
  if (pattern === "*") return "";
  if (!pattern.startsWith("arn:aws:iot:") && /^arn:aws:[^:]*:\d*:/.test(pattern))
    return (
      " — not an iot ARN: it lacks the iot service segment (arn:aws:iot:<region>:<account>:…), " +
      "so it matches nothing"
    );
  const kind = action === "iot:Connect" ? "client/" : action === "iot:Subscribe" ? "topicfilter/" : "topic/";
  if (/^arn:aws:iot:[^:]*:[^:]*:/.test(pattern) && !/^arn:aws:iot:[^:]*:[^:]*:[*?]/.test(pattern)) {
    const type = pattern.replace(/^arn:aws:iot:[^:]*:[^:]*:/, "");
    if (!type.startsWith(kind)) return ` — ${action} resources are ${kind}…, this is ${type.split("/")[0]}/…`;
  }
  return "";
}

/** Every statement in turn; an explicit Deny throws DenyFound, which ends the search at once. */
function search(policies: readonly NamedPolicy[], action: IotAction, resource: string, ctx: PolicyContext): Decision {
  let allow: string | undefined;
  const misses: string[] = [];
  for (const p of policies) {
    p.policy.statements.forEach((st, i) => {
      if (!st.actions.some((a) => actionMatches(a, action))) return;
      if (!st.conditions.every((c) => conditionHolds(c, ctx))) {
        misses.push(`${where(p, i)}: its Condition does not hold`);
        return;
      }
      const missed: string[] = [];
      for (const pattern of st.resources) {
        const sub = substitute(pattern, ctx);
        if ("unresolved" in sub) {
          missed.push(`${pattern} — \${${sub.unresolved}} is unresolved${unresolvedWhy(sub.unresolved, ctx)}`);
          continue;
        }
        if (matches(sub.tokens, resource)) {
          if (st.effect === "Deny") throw new DenyFound(`explicit Deny: ${where(p, i)} (${pattern})`);
          allow ??= `allowed by ${where(p, i)} (${pattern})`;
          return;
        }
        missed.push(`${shown(sub.tokens)}${hint(pattern, action)}`);
      }
      if (st.effect === "Allow") misses.push(`${where(p, i)} allows only ${missed.join(", ")}`);
    });
  }
  if (allow) return { allowed: true, reason: allow };
  if (policies.length === 0) return { allowed: false, reason: "no policy is attached to the certificate" };
  const names = policies.map((p) => p.name).join(", ");
  if (misses.length === 0) return { allowed: false, reason: `no statement of ${names} is for ${action}` };
  return { allowed: false, reason: `no statement allows it: ${misses.join("; ")}` };
}

/** A resource pattern with its variables filled in, as the statement applies to this client. */
const shown = (tokens: readonly Token[]) => tokens.map((t) => (typeof t === "string" ? t : t.literal)).join("");

class DenyFound extends Error {}

/** Decides `action` on `resource` under `policies` (all of the principal's policies). */
export function decide(
  policies: readonly NamedPolicy[],
  action: IotAction,
  resource: string,
  ctx: PolicyContext,
): Decision {
  try {
    return search(policies, action, resource, ctx);
  } catch (error) {
    if (error instanceof DenyFound) return { allowed: false, reason: error.message };
    throw error;
  }
}

function unresolvedWhy(name: string, ctx: PolicyContext): string {
  if (name.startsWith("iot:Connection.Thing.") && !ctx.thing)
    return ` (client id ${ctx.clientId} is not a thing attached to this certificate)`;
  return "";
}
