/**
 * The AWS models the HTTP API is checked against (generated into api-model.generated.ts from
 * botocore by scripts/api-model/generate.py), and the one mechanism that turns a request into an
 * operation's input: members read from their declared location (path, query, header, JSON body,
 * payload), then every constraint of the model checked before any handler runs. A refusal names
 * the member and the constraint, in the words AWS uses ("Value … at 'x' failed to satisfy
 * constraint: …").
 */
import { DETAILS_VALUE_PATTERN } from "../../protocol/ids.ts";
import { ServiceError } from "../errors.ts";
import { API_MODEL } from "./api-model.generated.ts";

export type ServiceName = "iot" | "iot-data" | "iot-jobs-data";

export type ShapeSpec =
  | { type: "string"; min?: number; max?: number; pattern?: string; enum?: string[] }
  | { type: "integer" | "long" | "double" | "float"; min?: number; max?: number }
  | { type: "boolean" | "timestamp" | "blob"; min?: number; max?: number }
  | { type: "list"; member: string; min?: number; max?: number }
  | { type: "map"; key: string; value: string; min?: number; max?: number }
  | { type: "structure"; members: Record<string, MemberSpec>; required?: string[]; payload?: string };

export interface MemberSpec {
  readonly shape: string;
  readonly location?: "uri" | "querystring" | "header" | "headers" | "statusCode";
  readonly name?: string;
}

export interface OperationSpec {
  readonly service: ServiceName;
  readonly name: string;
  readonly method: string;
  readonly uri: string;
  /** A Jobs or Package Catalog user's operation (constraints generated, listed in the docs). */
  readonly scoped: boolean;
  readonly errors: readonly string[];
  readonly input?: string;
}

export interface ApiModel {
  readonly operations: readonly OperationSpec[];
  readonly models: Record<
    ServiceName,
    { signingName: string; version: string; errors: Record<string, number>; shapes: Record<string, ShapeSpec> }
  >;
}

/**
 * The one place the service's rule for an input is not the model's: iot-jobs-data's statusDetails
 * values follow the Jobs device API's rule (src/protocol/ids.ts: \n and \t allowed), so an update
 * is refused over HTTP exactly when it is over MQTT (the model's `[^\p{C}]+` would refuse both).
 */
function withServiceRules(model: ApiModel): ApiModel {
  const jobsData = model.models["iot-jobs-data"];
  const value = jobsData.shapes.DetailsValue;
  if (value?.type !== "string") throw new Error("the iot-jobs-data model has no DetailsValue string shape");
  const shapes = { ...jobsData.shapes, DetailsValue: { ...value, pattern: DETAILS_VALUE_PATTERN.source } };
  return { ...model, models: { ...model.models, "iot-jobs-data": { ...jobsData, shapes } } };
}

export const MODEL: ApiModel = withServiceRules(API_MODEL);

export const operationSpec = (service: ServiceName, name: string): OperationSpec | undefined =>
  MODEL.operations.find((o) => o.service === service && o.name === name);

/** The members of an operation's input shape (empty for operations without input). */
export function inputMembers(op: OperationSpec): Record<string, MemberSpec> {
  if (!op.input) return {};
  const shape = MODEL.models[op.service].shapes[op.input];
  return shape?.type === "structure" ? shape.members : {};
}

export const invalidInput = (message: string) => new ServiceError("InvalidRequest", message);

const patterns = new Map<string, RegExp>();
const regex = (source: string): RegExp => {
  const known = patterns.get(source);
  if (known) return known;
  const compiled = new RegExp(source, "u");
  patterns.set(source, compiled);
  return compiled;
};

const show = (v: unknown): string => {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
};

/** AWS's words for a failed constraint. */
const violation = (path: string, value: unknown, constraint: string) =>
  invalidInput(
    `1 validation error detected: Value '${show(value)}' at '${path}' failed to satisfy constraint: ${constraint}`,
  );

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Checks `value` against a model shape; throws InvalidRequest naming the member and the constraint. */
export function validate(service: ServiceName, shapeName: string, value: unknown, path: string): void {
  const shape = MODEL.models[service].shapes[shapeName];
  if (!shape) throw new ServiceError("InternalFailure", `No model shape ${shapeName}`);
  const range = (n: number, what: string) => {
    if (shape.type === "structure") return;
    if (shape.min !== undefined && n < shape.min) {
      throw violation(path, value, `Member must have ${what} greater than or equal to ${shape.min}`);
    }
    if (shape.max !== undefined && n > shape.max) {
      throw violation(path, value, `Member must have ${what} less than or equal to ${shape.max}`);
    }
  };
  switch (shape.type) {
    case "string":
      if (typeof value !== "string") throw violation(path, value, "Member must be a string");
      range(value.length, "length");
      if (shape.enum && !shape.enum.includes(value)) {
        throw violation(path, value, `Member must satisfy enum value set: [${shape.enum.join(", ")}]`);
      }
      if (shape.pattern && !regex(shape.pattern).test(value)) {
        throw violation(path, value, `Member must satisfy regular expression pattern: ${shape.pattern}`);
      }
      break;
    case "integer":
    case "long":
      if (typeof value !== "number" || !Number.isSafeInteger(value))
        throw violation(path, value, "Member must be an integer");
      range(value, "value");
      break;
    case "double":
    case "float":
      if (typeof value !== "number" || !Number.isFinite(value)) throw violation(path, value, "Member must be a number");
      range(value, "value");
      break;
    case "boolean":
      if (typeof value !== "boolean") throw violation(path, value, "Member must be a boolean");
      break;
    case "timestamp":
      if (typeof value !== "number" && (typeof value !== "string" || Number.isNaN(Date.parse(value)))) {
        throw violation(path, value, "Member must be a timestamp");
      }
      break;
    case "blob":
      if (!(value instanceof Uint8Array) && typeof value !== "string")
        throw violation(path, value, "Member must be a blob");
      break;
    case "list":
      if (!Array.isArray(value)) throw violation(path, value, "Member must be a list");
      range(value.length, "length");
      for (const [i, item] of value.entries()) validate(service, shape.member, item, `${path}.${i + 1}.member`);
      break;
    case "map": {
      if (!isRecord(value)) throw violation(path, value, "Member must be a map");
      const entries = Object.entries(value);
      range(entries.length, "length");
      for (const [k, v] of entries) {
        validate(service, shape.key, k, `${path}.key`);
        validate(service, shape.value, v, `${path}.${k}`);
      }
      break;
    }
    case "structure":
      if (!isRecord(value)) throw violation(path, value, "Member must be a structure");
      for (const name of shape.required ?? []) {
        if (value[name] === undefined || value[name] === null)
          throw violation(path ? `${path}.${name}` : name, null, "Member must not be null");
      }
      for (const [name, v] of Object.entries(value)) {
        const member = shape.members[name];
        const where = path ? `${path}.${name}` : name;
        if (!member)
          throw invalidInput(`${where} is not a member of ${shapeName}; the request is refused rather than ignored`);
        if (v !== null && v !== undefined) validate(service, member.shape, v, where);
      }
      break;
  }
}

/** Converts a path or query string to the member's type (integers, booleans, lists of strings). */
export function fromText(service: ServiceName, shapeName: string, texts: string[], path: string): unknown {
  const shape = MODEL.models[service].shapes[shapeName];
  const text = texts[texts.length - 1]!;
  switch (shape?.type) {
    case "integer":
    case "long":
      if (!/^-?\d{1,16}$/.test(text)) throw violation(path, text, "Member must be an integer");
      return Number(text);
    case "double":
    case "float":
      if (text.trim() === "" || !Number.isFinite(Number(text))) throw violation(path, text, "Member must be a number");
      return Number(text);
    case "boolean":
      if (text !== "true" && text !== "false") throw violation(path, text, "Member must be true or false");
      return text === "true";
    case "list":
      return texts;
    default:
      return text;
  }
}
