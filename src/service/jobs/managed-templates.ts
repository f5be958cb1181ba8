/**
 * The AWS managed job templates (version 1.0) and `${aws:iot:parameter:<key>}` substitution. Pure.
 *
 * The documents are written from what AWS documents for each template (the developer guide's
 * "Managed templates" pages): one step, a runHandler whose `input.path` is the optional
 * `pathToHandler` parameter and whose `runAsUser` is the optional `runAsUser` parameter, or, for
 * AWS-Run-Command, a runCommand. AWS publishes the regexes of AWS-Download-File; the other
 * templates' are not published and are assumed to have the same shapes (docs/LOCAL-SERVICE.md).
 *
 * Substitution walks the parsed document and replaces placeholders inside its strings, so a
 * value is never able to change the JSON around it; an optional parameter that is not given
 * becomes the empty string, which is what makes `"path": ""` and `"runAsUser": ""` reach devices.
 */
import { REGION } from "../model.ts";
import { ServiceError } from "../errors.ts";

export interface DocumentParameter {
  readonly key: string;
  readonly description: string;
  readonly regex: string;
  readonly example: string;
  readonly optional: boolean;
}

export interface ManagedTemplate {
  readonly templateName: string;
  readonly templateVersion: string;
  readonly description: string;
  readonly environments: readonly string[];
  readonly documentParameters: readonly DocumentParameter[];
  /** The job document, a JSON string. */
  readonly document: string;
}

export const MANAGED_TEMPLATE_VERSION = "1.0";

const RUN_AS_USER: DocumentParameter = {
  key: "runAsUser",
  description: "The user to run the handler as; empty: the agent's own user.",
  regex: "(.){0,256}",
  example: "user1",
  optional: true,
};
const PATH_TO_HANDLER: DocumentParameter = {
  key: "pathToHandler",
  description: "The directory that holds the handler; empty: looked up as the Device Client does.",
  regex: "(.){0,4096}",
  example: "/home/user1/jobs/handlers",
  optional: true,
};

const placeholder = (key: string) => `\${aws:iot:parameter:${key}}`;

/** A one-step runHandler document, as the managed templates have. */
function handlerDocument(name: string, handler: string, args: readonly string[]): string {
  return JSON.stringify({
    version: "1.0",
    steps: [
      {
        action: {
          name,
          type: "runHandler",
          input: { handler, args: args.map(placeholder), path: placeholder("pathToHandler") },
          runAsUser: placeholder("runAsUser"),
        },
      },
    ],
  });
}

function handlerTemplate(
  name: string,
  description: string,
  handler: string,
  parameters: readonly DocumentParameter[],
): ManagedTemplate {
  return {
    templateName: `AWS-${name}`,
    templateVersion: MANAGED_TEMPLATE_VERSION,
    description,
    environments: ["LINUX"],
    documentParameters: [...parameters, RUN_AS_USER, PATH_TO_HANDLER],
    document: handlerDocument(
      name,
      handler,
      parameters.map((p) => p.key),
    ),
  };
}

const list = (key: string, what: string, example: string): DocumentParameter => ({
  key,
  description: `Space-separated list of ${what}.`,
  regex: "(.){1,4096}",
  example,
  optional: false,
});

export const MANAGED_TEMPLATES: readonly ManagedTemplate[] = [
  handlerTemplate("Download-File", "A managed job template for downloading a file.", "download-file.sh", [
    {
      key: "downloadUrl",
      description: "URL of the file to download.",
      regex: "(.*?)",
      example: "https://example.com/file",
      optional: false,
    },
    {
      key: "filePath",
      description: "Where on the device to put the file.",
      regex: "(.*?)",
      example: "/tmp/file",
      optional: false,
    },
  ]),
  handlerTemplate(
    "Install-Application",
    "A managed job template for installing one or more applications.",
    "install-packages.sh",
    [list("packages", "packages to install", "lftp dos2unix")],
  ),
  handlerTemplate("Reboot", "A managed job template for rebooting a device.", "reboot.sh", []),
  handlerTemplate(
    "Remove-Application",
    "A managed job template for uninstalling one or more applications.",
    "remove-packages.sh",
    [list("packages", "packages to remove", "lftp dos2unix")],
  ),
  handlerTemplate(
    "Restart-Application",
    "A managed job template for restarting one or more services.",
    "restart-services.sh",
    [list("services", "services to restart", "ssh cron")],
  ),
  {
    templateName: "AWS-Run-Command",
    templateVersion: MANAGED_TEMPLATE_VERSION,
    description: "A managed job template for running a command.",
    environments: ["LINUX"],
    documentParameters: [
      {
        key: "command",
        description: "A comma-separated command line: the program, then its arguments; \\, for a comma.",
        regex: "(.){1,4096}",
        example: "ls,-la,/tmp",
        optional: false,
      },
      RUN_AS_USER,
    ],
    document: JSON.stringify({
      version: "1.0",
      steps: [
        {
          action: {
            name: "Run-Command",
            type: "runCommand",
            input: { command: placeholder("command") },
            runAsUser: placeholder("runAsUser"),
          },
        },
      ],
    }),
  },
  handlerTemplate(
    "Start-Application",
    "A managed job template for starting one or more services.",
    "start-services.sh",
    [list("services", "services to start", "ssh cron")],
  ),
  handlerTemplate("Stop-Application", "A managed job template for stopping one or more services.", "stop-services.sh", [
    list("services", "services to stop", "ssh cron"),
  ]),
];

/** Managed template ARNs carry no account: `arn:aws:iot:<region>::jobtemplate/<name>:<version>`. */
export const managedTemplateArn = (t: Pick<ManagedTemplate, "templateName" | "templateVersion">) =>
  `arn:aws:iot:${REGION}::jobtemplate/${t.templateName}:${t.templateVersion}`;

const MANAGED_ARN = /^arn:aws:iot:[a-z0-9-]+::jobtemplate\/(AWS-[A-Za-z-]+):([0-9.]+)$/;

/** The managed template an ARN names; undefined when the ARN is not a managed template's form. */
export function parseManagedArn(templateArn: string): { name: string; version: string } | undefined {
  const m = MANAGED_ARN.exec(templateArn);
  return m ? { name: m[1]!, version: m[2]! } : undefined;
}

export function findManagedTemplate(name: string, version?: string): ManagedTemplate {
  const t = MANAGED_TEMPLATES.find((x) => x.templateName === name);
  if (!t) throw new ServiceError("ResourceNotFound", `Managed job template ${name} does not exist`);
  if (version !== undefined && version !== t.templateVersion) {
    throw new ServiceError("ResourceNotFound", `Managed job template ${name} has no version ${version}`);
  }
  return t;
}

const regexCache = new Map<string, RegExp>();

/** A parameter's regex matches the whole value (AWS's regexes are Java `matches()` patterns). */
function matchesWhole(regex: string, value: string): boolean {
  let r = regexCache.get(regex);
  if (!r) {
    r = new RegExp(`^(?:${regex})$`, "su");
    regexCache.set(regex, r);
  }
  return r.test(value);
}

/**
 * The template's document with every `${aws:iot:parameter:<key>}` replaced: each given value
 * checked against its parameter's regex, required ones enforced, unknown keys refused, omitted
 * optional ones → "". Throws InvalidRequest naming the parameter and the reason.
 */
export function applyDocumentParameters(template: ManagedTemplate, given: Readonly<Record<string, string>>): string {
  const known = new Map(template.documentParameters.map((p) => [p.key, p]));
  for (const key of Object.keys(given)) {
    if (!known.has(key)) {
      const keys = [...known.keys()].join(", ");
      throw invalid(`documentParameters: ${template.templateName} has no parameter ${key} (it has ${keys})`);
    }
  }
  const values = new Map<string, string>();
  for (const p of template.documentParameters) {
    const value = Object.hasOwn(given, p.key) ? given[p.key] : undefined;
    if (value === undefined) {
      if (!p.optional) throw invalid(`documentParameters: ${p.key} is required by ${template.templateName}`);
      values.set(p.key, "");
      continue;
    }
    if (!matchesWhole(p.regex, value)) {
      throw invalid(
        `documentParameters: the value of ${p.key} does not match its pattern ${p.regex} (example: ${p.example})`,
      );
    }
    values.set(p.key, value);
  }
  const replace = (s: string) =>
    s.replace(/\$\{aws:iot:parameter:([a-zA-Z0-9_-]+)\}/g, (whole, key: string) => values.get(key) ?? whole);
  return JSON.stringify(mapStrings(JSON.parse(template.document), replace));
}

function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === "string") return f(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = mapStrings(v, f);
    return out;
  }
  return value;
}

const invalid = (message: string) => new ServiceError("InvalidRequest", message);
