/**
 * Identifiers of the AWS IoT wire protocol and their patterns, in one place for the agent, the
 * local service and the test peer. Patterns and lengths are botocore's (iot-jobs-data, iot,
 * iot-data models); each regular expression is anchored and includes the length.
 */

/** ThingName (also a thing group name): `[a-zA-Z0-9:_-]+`, 1–128 characters. */
export const THING_NAME_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;
export const THING_NAME_RULE = "1-128 characters of [a-zA-Z0-9:_-]";

/** JobId: `[a-zA-Z0-9_-]+`, 1–64 characters. */
export const JOB_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
export const JOB_ID_RULE = "1-64 characters of [a-zA-Z0-9_-]";

/** JobTemplateId: `[a-zA-Z0-9_-]+`, 1–64 characters. */
export const JOB_TEMPLATE_ID_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/** DescribeJobExecution also takes `$next`: the execution start-next would return. */
export const NEXT_JOB_ID = "$next";

/** statusDetails keys (DetailsKey): `[a-zA-Z0-9:_-]+`, 1–128 characters. */
export const DETAILS_KEY_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;

/**
 * statusDetails values (DetailsValue) match `[^\p{C}]+`, though the service (and the
 * specification's examples) accept \n and \t. Length is checked separately (UTF-16 units).
 */
export const DETAILS_VALUE_PATTERN = /^(?:[^\p{C}]|[\n\t])*$/u;

/** ShadowName: `[$a-zA-Z0-9:_-]+`, 1–64 characters; "" is the classic shadow. */
export const SHADOW_NAME_PATTERN = /^[$a-zA-Z0-9:_-]{1,64}$/;

/** The reserved named shadow Software Package Catalog reports installed versions to. */
export const PACKAGE_SHADOW_NAME = "$package";

/** Software Package Catalog PackageName: `[a-zA-Z0-9-_.]+`, 1–128 characters. */
export const PACKAGE_NAME_PATTERN = /^[a-zA-Z0-9-_.]{1,128}$/;
export const PACKAGE_NAME_RULE = "1-128 characters of [a-zA-Z0-9-_.]";

/** A package version's attribute key (ResourceAttributeKey): `[a-zA-Z0-9:_-]+`. */
export const ATTRIBUTE_KEY_PATTERN = /^[a-zA-Z0-9:_-]+$/;
export const ATTRIBUTE_KEY_RULE = "[a-zA-Z0-9:_-]+";

/** Software Package Catalog VersionName: `[a-zA-Z0-9-_.]+`, 1–64 characters. */
export const VERSION_NAME_PATTERN = /^[a-zA-Z0-9-_.]{1,64}$/;
export const VERSION_NAME_RULE = "1-64 characters of [a-zA-Z0-9-_.]";

/** A pattern's body without its anchors, to build the ARN patterns below from the id patterns. */
const body = (pattern: RegExp): string => pattern.source.slice(1, -1);
const ARN_PREFIX = String.raw`^arn:aws:iot:[a-z0-9-]+:\d{12}:`;

/** `arn:aws:iot:<region>:<account>:job/<jobId>`; group 1 is the jobId. */
export const JOB_ARN_PATTERN = new RegExp(`${ARN_PREFIX}job/(${body(JOB_ID_PATTERN)})$`);
/** `…:jobtemplate/<jobTemplateId>`; group 1 is the id. */
export const JOB_TEMPLATE_ARN_PATTERN = new RegExp(`${ARN_PREFIX}jobtemplate/(${body(JOB_TEMPLATE_ID_PATTERN)})$`);
/** `…:package/<name>/version/<version>` ($default and $null too); groups 1 and 2. */
export const PACKAGE_VERSION_ARN_PATTERN = new RegExp(
  `${ARN_PREFIX}package/(${body(PACKAGE_NAME_PATTERN)})/version/(\\$default|\\$null|${body(VERSION_NAME_PATTERN)})$`,
);
