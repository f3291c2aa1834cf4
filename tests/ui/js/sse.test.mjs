import { test } from "node:test";
import assert from "node:assert/strict";

import { parseEvents } from "../../../dashboard/js/sse.js";

async function collect(chunks) {
  const events = [];
  for await (const event of parseEvents((async function* () { yield* chunks; })())) events.push(event);
  return events;
}

test("events split across chunks, with ids, names and comments", async () => {
  const events = await collect([
    ": keep-alive\n\nevent: chunk\nid: 1-0\nda",
    "ta: {\"text\": \"a\"}\n\n",
    "event: result\r\ndata: line one\r",
    "\ndata: line two\r\n\r\n",
  ]);
  assert.deepEqual(events, [
    { event: "chunk", data: "{\"text\": \"a\"}", id: "1-0" },
    { event: "result", data: "line one\nline two", id: "1-0" },
  ]);
});

test("an event without a name is a message; one the stream ends inside is dropped", async () => {
  assert.deepEqual(await collect(["data: x\n\ndata:y\n"]), [{ event: "message", data: "x", id: null }]);
});

test("lines with no data make no event", async () => {
  assert.deepEqual(await collect(["event: ping\n\n", "id: 7\n\n"]), []);
});
