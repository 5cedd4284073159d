// Server-sent events over fetch(): EventSource can only GET and cannot send the CSRF header or a
// body, so generation requests POST with fetch and this small reader parses the stream
// (the WHATWG "event stream" rules: lines end in LF, CR or CRLF; "event:", "data:" (joined by
// newlines), comment lines starting with ":"; a blank line dispatches). Nothing runs on import.

const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

/** Split a stream of Uint8Array chunks into events {event, data} (data is the raw text). */
export async function* readEvents(stream) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data = [];
  const line = (text) => {
    if (text === "") {
      const out = data.length ? { event: event || "message", data: data.join("\n") } : null;
      event = "";
      data = [];
      return out;
    }
    if (text.startsWith(":")) return null;
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    return null;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      // A trailing CR may be the first half of CRLF: keep it until the next chunk says.
      let match;
      const pattern = /\r\n|\r(?=[^\n])|\n/g;
      let start = 0;
      while ((match = pattern.exec(buffer)) !== null) {
        const out = line(buffer.slice(start, match.index));
        start = match.index + match[0].length;
        if (out) yield out;
      }
      buffer = buffer.slice(start);
      if (done) {
        if (buffer.endsWith("\r")) {
          const out = line(buffer.slice(0, -1));
          if (out) yield out;
        }
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

export class StreamRefused extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/**
 * POST JSON and yield the answer's events as {event, data: parsed JSON}. A non-stream answer
 * (the canonical JSON error shape) throws StreamRefused; aborting `signal` ends the request,
 * which the server sees as a disconnect and cancels the upstream call.
 */
export async function* postStream(path, body, signal) {
  const response = await fetch(path, {
    method: "POST", credentials: "same-origin", signal,
    headers: { "Content-Type": "application/json", Accept: "text/event-stream", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body ?? {}),
  });
  const type = response.headers.get("content-type") || "";
  if (!response.ok || !type.startsWith("text/event-stream")) {
    let data = null;
    try { data = await response.json(); } catch { /* not JSON */ }
    throw new StreamRefused(data?.error ?? `Request failed (${response.status})`, response.status, data);
  }
  for await (const { event, data } of readEvents(response.body)) {
    let parsed;
    try { parsed = JSON.parse(data); } catch { parsed = data; }
    yield { event, data: parsed };
  }
}
