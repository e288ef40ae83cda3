// The SSE parser against the WHATWG rules: split anywhere, CR/LF/CRLF, comments, ids, retry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readSse, SseParser, type SseEvent } from "../src/sse.ts";

const STREAM =
  ": keep-alive\r\n" +
  "id: 1\r\nevent: progress\r\ndata: {\"progress\":1,\"total\":3}\r\n\r\n" +
  "id: 2\nevent: log\ndata: line one\ndata: line two\n\n" +
  "retry: 2500\rid: 3\revent: result\rdata:no-space\r\r" +
  "data: after an id-less block keeps id 3\n\n" +
  "event: dropped\n\n" + // no data: never dispatched
  "id: 4\ndata: incomplete at the end";

const EXPECTED: SseEvent[] = [
  { event: "progress", data: '{"progress":1,"total":3}', id: "1" },
  { event: "log", data: "line one\nline two", id: "2" },
  { event: "result", data: "no-space", id: "3", retry: 2500 },
  { event: "message", data: "after an id-less block keeps id 3", id: "3", retry: 2500 },
];

test("events are the same whatever the chunk boundaries, CRLF split included", () => {
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const parser = new SseParser();
    const events = [...parser.push(STREAM.slice(0, cut)), ...parser.push(STREAM.slice(cut))];
    assert.deepEqual(events, EXPECTED, `split at ${cut}`);
    assert.equal(parser.lastEventId, "3", "the id of the unfinished block is not yet in force");
  }
});

test("one character at a time gives the same events", () => {
  const parser = new SseParser();
  const events = [...STREAM].flatMap((c) => parser.push(c));
  assert.deepEqual(events, EXPECTED);
});

test("a resumed parser starts from the Last-Event-ID it was given", () => {
  const parser = new SseParser("41");
  assert.deepEqual(parser.push("data: x\n\n"), [{ event: "message", data: "x", id: "41" }]);
});

test("an id-only block moves the id in force without dispatching", () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push("id: 7\n\n"), []);
  assert.equal(parser.lastEventId, "7");
});

test("an id containing NUL is ignored", () => {
  const parser = new SseParser();
  parser.push("id: ok\n\nid: bad\u0000\ndata: y\n\n");
  assert.equal(parser.lastEventId, "ok");
});

test("readSse decodes a byte stream split inside a multi-byte character", async () => {
  const bytes = new TextEncoder().encode("id: é1\ndata: ünïcödé ✓\n\n");
  const chunks = [bytes.slice(0, 5), bytes.slice(5, 17), bytes.slice(17)];
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
  const events: SseEvent[] = [];
  for await (const e of readSse(body)) events.push(e);
  assert.deepEqual(events, [{ event: "message", data: "ünïcödé ✓", id: "é1" }]);
});

test("stopping early cancels the stream", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("data: a\n\ndata: b\n\n"));
    },
    cancel() {
      cancelled = true;
    },
  });
  for await (const e of readSse(body)) {
    assert.equal(e.data, "a");
    break;
  }
  assert.equal(cancelled, true);
});
