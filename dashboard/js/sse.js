// Server-sent events read from a fetch() body: EventSource can neither send an Authorization header
// nor POST, and both are needed here.

/** Splits a text stream into events: yields { event, data, id } with `data` as the raw string. */
export async function* parseEvents(chunks) {
  let buffer = "";
  let event = { event: "message", data: [], id: null };
  for await (const chunk of chunks) {
    buffer += chunk;
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      if (buffer[newline] === "\r" && newline === buffer.length - 1) break; // "\r\n" split across chunks
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      if (line === "") {
        if (event.data.length) yield { event: event.event, data: event.data.join("\n"), id: event.id };
        event = { event: "message", data: [], id: event.id };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event.event = value;
      else if (field === "data") event.data.push(value);
      else if (field === "id") event.id = value;
    }
  }
  // As the SSE standard says, an event the stream ended in the middle of is not dispatched.
}

/** The decoded text of a Response body, chunk by chunk. */
export async function* textChunks(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
