/**
 * A `text/event-stream` parser (the WHATWG HTML "server-sent events" rules) for streams read
 * with `fetch`, where `EventSource` cannot send a bearer token.
 *
 * Invariants: input may be split anywhere (inside a line, inside a CRLF, inside a multi-byte
 * character); events come out in order, each exactly once, when their blank line arrives; an
 * event never completed by a blank line before the stream ends is dropped (as browsers do);
 * `lastEventId` is the id in force at the last blank line (an id in an unfinished block is not
 * yet in force), which is what `Last-Event-ID` resends on a reconnect.
 */

/** One dispatched event. `event` is "message" when the stream named none. */
export interface SseEvent {
  event: string;
  data: string;
  /** The last event id in force when this event was dispatched ("" if none was ever set). */
  id: string;
  /** The server's `retry:` advice in milliseconds, if it sent one before this event. */
  retry?: number;
}

/** Incremental parser: feed text with `push`, collect the events each push completed. */
export class SseParser {
  private buffer = "";
  private pendingCr = false;
  private data: string[] = [];
  private eventType = "";
  private hasData = false;
  private idBuffer: string;
  /** The id in force (the `Last-Event-ID` to resume from). */
  lastEventId = "";
  /** The server's latest `retry:` value in milliseconds. */
  retry: number | undefined;

  constructor(lastEventId = "") {
    this.lastEventId = lastEventId;
    this.idBuffer = lastEventId;
  }

  /** Parses `chunk` (already decoded text) and answers the events it completed. */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    // A CR ending the previous chunk already ended its line: skip the LF of its CRLF.
    if (this.pendingCr && text.startsWith("\n")) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== "\n" && c !== "\r") continue;
      const line = this.buffer.slice(start, i);
      if (c === "\r") {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === "\n") i++;
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
      const event = this.line(line);
      if (event) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return undefined; // a comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.data.push(value);
        this.hasData = true;
        break;
      case "id":
        if (!value.includes("\u0000")) this.idBuffer = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const hadData = this.hasData;
    this.lastEventId = this.idBuffer;
    const event: SseEvent = {
      event: this.eventType || "message",
      data: this.data.join("\n"),
      id: this.lastEventId,
    };
    if (this.retry !== undefined) event.retry = this.retry;
    this.data = [];
    this.hasData = false;
    this.eventType = "";
    return hadData ? event : undefined;
  }
}

/** The events of a byte stream, in order, until it ends; stopping early cancels the stream. */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
  parser: SseParser = new SseParser(),
): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        yield* parser.push(decoder.decode());
        return;
      }
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    // A consumer that stopped early (final event, abort) closes the connection.
    if (ended) reader.releaseLock();
    else await reader.cancel().catch(() => undefined);
  }
}
