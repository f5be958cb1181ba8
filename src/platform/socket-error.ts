/**
 * A socket error as one line for people: Bun says only "Failed to connect" for a refused or
 * unreachable connection and keeps the errno name in `code`; Node puts it in the message already
 * ("connect ECONNREFUSED 127.0.0.1:1"). The code is added once, when the message lacks it.
 */
export function socketErrorText(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
}
