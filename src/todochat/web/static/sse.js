// Server-Sent Events read from a fetch body (EventSource cannot POST).

/**
 * The events of an SSE byte stream, as `{event, data}`, per the HTML standard's rules:
 * lines end in CRLF, LF or CR; a blank line ends an event; `data` lines join with "\n";
 * comments (lines starting with ":") are skipped; an unfinished event at the end is dropped.
 */
export async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "";
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = lineEnd(buffer)) !== null) {
        const line = buffer.slice(0, end.at);
        buffer = buffer.slice(end.at + end.length);
        if (line === "") {
          if (data.length > 0) yield { event: event || "message", data: data.join("\n") };
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let text = colon === -1 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
    }
  } finally {
    reader.cancel().catch(() => {}); // a reader that stops early lets the server know
  }
}

/** Where the first complete line of `buffer` ends, or null while it may still grow. */
function lineEnd(buffer) {
  const at = buffer.search(/[\r\n]/);
  if (at === -1) return null;
  if (buffer[at] === "\n") return { at, length: 1 };
  if (at + 1 === buffer.length) return null; // a CR that may be the first half of a CRLF
  return { at, length: buffer[at + 1] === "\n" ? 2 : 1 };
}
