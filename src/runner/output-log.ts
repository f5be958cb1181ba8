/**
 * A step's output, line by line, into the agent's log — as the Device Client logs it (stdout at
 * DEBUG, stderr at WARN here: see COMPATIBILITY.md) — while the bytes go on unchanged to the
 * statusDetails tail. Three guards keep the log useful and safe:
 * - rate: at most `maxLines` lines per `windowMs` per stream and step; the rest is counted and
 *   summarised in one line ("… 12,345 more lines not logged"), so a flood cannot flood the log;
 * - length: a line is cut at `maxLineChars` (the rest of it is skipped, not buffered);
 * - secrets: lines between a PEM BEGIN and END are never logged one by one (a per-line redaction
 *   cannot recognise a lone base64 line of a private key); other secrets are redacted by the logger.
 */
import { type Clock, systemClock } from "../util/clock.ts";
import type { ByteSink } from "./byte-sink.ts";
import { sanitizeText } from "./sanitize.ts";

export interface OutputLogOptions {
  /** Called once per line (already cut, sanitised, PEM-suppressed, rate-limited). */
  readonly line: (text: string) => void;
  readonly maxLines?: number;
  readonly windowMs?: number;
  readonly maxLineChars?: number;
  readonly clock?: Clock;
}

const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]+-----/;
const PEM_END = /-----END [A-Z0-9 ]+-----/;

export class OutputLog implements ByteSink {
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });
  private partial = "";
  private partialCut = false;
  private inPem = false;
  private windowStart: number;
  private inWindow = 0;
  private skipped = 0;
  private readonly maxLines: number;
  private readonly windowMs: number;
  private readonly maxLineChars: number;
  private readonly clock: Clock;

  constructor(
    private readonly inner: ByteSink,
    private readonly options: OutputLogOptions,
  ) {
    this.maxLines = options.maxLines ?? 100;
    this.windowMs = options.windowMs ?? 10_000;
    this.maxLineChars = options.maxLineChars ?? 512;
    this.clock = options.clock ?? systemClock;
    this.windowStart = this.clock.now();
  }

  push(chunk: Uint8Array): void {
    this.inner.push(chunk);
    // Works on bytes: a line's bytes past maxLineChars are never decoded (a flood without
    // newlines costs a scan for 0x0a, not a string per chunk).
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      this.append(chunk.subarray(from, nl === -1 ? chunk.length : nl));
      if (nl === -1) return;
      this.finishLine();
      from = nl + 1;
    }
  }

  end(): void {
    if (this.partial !== "" || this.partialCut) this.finishLine();
    this.flushSkipped();
    this.inner.end();
  }

  private append(bytes: Uint8Array): void {
    if (this.partialCut || bytes.length === 0) return;
    const room = this.maxLineChars - this.partial.length;
    // A character is at most 4 bytes: decoding 4×room bytes is always enough.
    const take = Math.min(bytes.length, room * 4 + 4);
    this.partial += this.decoder.decode(bytes.subarray(0, take), { stream: true });
    if (this.partial.length > this.maxLineChars || take < bytes.length) {
      this.partial = this.partial.slice(0, this.maxLineChars);
      this.partialCut = true;
    }
  }

  private finishLine(): void {
    const rest = this.decoder.decode(); // flushes an unfinished UTF-8 sequence (as U+FFFD)
    if (!this.partialCut) this.partial += rest;
    this.emit(this.partial);
    this.partial = "";
    this.partialCut = false;
  }

  private emit(raw: string): void {
    const line = sanitizeText(raw.replace(/\r$/, "")) + (this.partialCut ? " …" : "");
    if (this.inPem) {
      if (PEM_END.test(raw)) this.inPem = false;
      return;
    }
    if (PEM_BEGIN.test(raw) && !PEM_END.test(raw)) {
      this.inPem = true;
      this.admit(`${raw.match(PEM_BEGIN)![0]} [REDACTED: block not logged]`);
      return;
    }
    this.admit(line);
  }

  private admit(line: string): void {
    const now = this.clock.now();
    // A wall clock set back (NTP's first sync on a board without an RTC) starts a new window too,
    // or the window would not end until the clock caught up again: no line logged for months.
    if (now - this.windowStart >= this.windowMs || now < this.windowStart) {
      this.flushSkipped();
      this.windowStart = now;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.maxLines) {
      this.skipped++;
      return;
    }
    this.inWindow++;
    this.options.line(line);
  }

  private flushSkipped(): void {
    if (this.skipped === 0) return;
    this.options.line(
      `… ${this.skipped.toLocaleString("en")} more line(s) not logged (more than ${this.maxLines} in ${this.windowMs / 1000} s)`,
    );
    this.skipped = 0;
  }
}
