/**
 * The platform the core uses. This file names the Bun adapter; the Node build resolves the
 * import below to `./node.ts` instead (scripts/cross-compile/node-build.ts), so neither bundle
 * carries the other runtime's adapter and nothing asks at run time which runtime it is.
 */
export { platform } from "./bun.ts";
