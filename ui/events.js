// The change feed (/api/v1/events, Server-Sent Events), followed with the operator's key:
// EventSource cannot send an Authorization header, so the stream is read through fetch. A
// dropped stream is opened again after a pause, resuming after the last event seen.
import { API, session } from "./api.js";

const AGAIN_AFTER_MS = 1000;

export function follow(query, onChange) {
  const stop = new AbortController();
  let lastId = null;

  async function stream() {
    const headers = { Accept: "text/event-stream", Authorization: `Bearer ${session.key}` };
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    const response = await fetch(`${API}/events?${query}`, { headers, signal: stop.signal });
    if (response.status === 401) {
      session.signOut("The key was refused");
      return false;
    }
    if (!response.ok) return true;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return true;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("id:")) lastId = line.slice(3).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trimStart();
        }
        if (data) onChange(JSON.parse(data));
      }
    }
  }

  (async () => {
    while (!stop.signal.aborted) {
      let again = true;
      try {
        again = await stream();
      } catch {
        // a dropped connection, or stopped: tried again below unless stopped
      }
      if (!again || stop.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, AGAIN_AFTER_MS));
    }
  })();
  return () => stop.abort();
}
