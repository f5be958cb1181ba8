/** Whitespace the reference trims from each token (C's isspace set). */
const TRIM = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;
const TOKEN = /(?:\\,|[^,])+/g;

/**
 * Splits a runCommand string into argv the way the AWS IoT Device Client does
 * [DC-JOBS-runCommand]: tokens are runs of `\,` or non-commas (so empty tokens between commas
 * vanish), then `\,` becomes `,`, then each token is trimmed. A whitespace-only token becomes ""
 * and is kept.
 */
export function splitCommand(command: string): string[] {
  const tokens = command.match(TOKEN) ?? [];
  return tokens.map((token) => token.replaceAll("\\,", ",").replace(TRIM, ""));
}

/** True when the token holds a character C's isspace() accepts. */
export function hasWhitespace(token: string): boolean {
  return /[ \t\n\v\f\r]/.test(token);
}
