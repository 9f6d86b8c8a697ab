// Server-Sent Events read from a fetch() body: EventSource cannot send the Authorization header the API needs.
// The parsing follows the WHATWG "event stream interpretation" rules.

/** An incremental text/event-stream parser: push() decoded text, get the events it completes. */
export class SseParser {
  constructor() {
    this.rest = ''; // an unterminated line carried to the next push
    this.afterCR = false; // the last push ended with CR: a LF starting the next one belongs to it
    this.type = '';
    this.data = [];
    /** The id of the last event (the field persists across events, as the spec has it). */
    this.lastEventId = '';
    /** The server's `retry:` advice in ms, or null. */
    this.retryMs = null;
  }

  /** Feed text; returns [{ type, data, id }] for every event completed by a blank line. */
  push(text) {
    const events = [];
    let buf = this.rest + text;
    if (this.afterCR && buf[0] === '\n') buf = buf.slice(1);
    this.afterCR = false;
    const eol = /\r\n|\r|\n/g;
    let pos = 0;
    for (let m = eol.exec(buf); m; m = eol.exec(buf)) {
      this.line(buf.slice(pos, m.index), events);
      pos = m.index + m[0].length;
      if (m[0] === '\r' && pos === buf.length) this.afterCR = true;
    }
    this.rest = buf.slice(pos);
    return events;
  }

  line(line, events) {
    if (line === '') {
      this.dispatch(events);
      return;
    }
    if (line[0] === ':') return; // a comment: the server's keep-alive
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
  }

  dispatch(events) {
    // No data line: nothing is dispatched, but an id field still counts (it was already kept).
    if (this.data.length) events.push({ type: this.type || 'message', data: this.data.join('\n'), id: this.lastEventId });
    this.type = '';
    this.data = [];
  }
}

/**
 * Read a response body as an event stream until it ends: `onEvent(event)` for each event, `onBytes()` whenever
 * anything arrives (keep-alive comments too). An event cut off by the end of the body is dropped, never half-read.
 */
export async function readEvents(body, parser, { onEvent, onBytes = () => {} }) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onBytes();
      for (const event of parser.push(value)) onEvent(event);
    }
  } finally {
    reader.releaseLock();
  }
}
