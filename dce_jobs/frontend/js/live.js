// Follows one execution's event stream: resumes after a drop with Last-Event-ID (with a growing back-off), and says
// when the stream is unavailable (an older server, or repeated failures) so that the view polls inspect instead.
import { api } from './api.js';
import { readEvents, SseParser } from './sse.js';

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
const MAX_FAILURES = 5; // connections in a row that brought no event before giving up on the stream
const IDLE_MS = 60_000; // nothing at all (not even a keep-alive comment) for this long: the connection is dead

/**
 * Follow `GET .../executors/{ExecutorId}/events`. Handlers (each optional):
 * onEvent(type, data) for each event (data parsed from JSON), onConnected(), onDropped(delayMs) when it reconnects,
 * onUnavailable(reason) once when it gives up ('missing' | 'refused' | 'failing'). Ends by itself after `end`.
 * Returns stop(), which closes the stream and cancels any pending reconnect.
 */
export function followEvents(jobId, executorId, handlers) {
  const on = { onEvent() {}, onConnected() {}, onDropped() {}, onUnavailable() {}, ...handlers };
  let stopped = false;
  let controller = null;
  let timer = null;
  let lastEventId = '';
  let retryMs = null;
  let failures = 0;

  async function connect() {
    timer = null;
    controller = new AbortController();
    const mine = controller;
    const parser = new SseParser();
    parser.lastEventId = lastEventId;
    let idle = null;
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(() => mine.abort(), IDLE_MS);
    };
    let received = false;
    let ended = false;
    try {
      const resp = await api.events(jobId, executorId, { lastEventId, signal: mine.signal });
      if (stopped) return;
      if (resp.status === 404 || resp.status === 405 || resp.status === 501) {
        giveUp('missing');
        return;
      }
      const type = resp.headers.get('Content-Type') || '';
      if (resp.ok && !type.startsWith('text/event-stream')) {
        giveUp('missing');
        return;
      }
      if (resp.ok) {
        arm();
        on.onConnected();
        await readEvents(resp.body, parser, {
          onBytes: arm,
          onEvent: (event) => {
            if (stopped || ended) return;
            let data;
            try {
              data = JSON.parse(event.data);
            } catch {
              return; // not one of ours: skipped rather than breaking the view
            }
            received = true;
            lastEventId = parser.lastEventId;
            if (event.type === 'end') ended = true;
            on.onEvent(event.type, data);
            if (ended) mine.abort(); // the server closes anyway; nothing more is wanted
          },
        });
      }
    } catch (err) {
      if (stopped || ended) return;
      // 401 after the token prompt was cancelled: inspect will say so as well.
      if (err && err.status === 401) {
        giveUp('refused');
        return;
      }
    } finally {
      clearTimeout(idle);
    }
    if (stopped || ended) return;
    lastEventId = parser.lastEventId || lastEventId;
    retryMs = parser.retryMs ?? retryMs;
    failures = received ? 1 : failures + 1;
    if (failures >= MAX_FAILURES) {
      giveUp('failing');
      return;
    }
    const base = retryMs ?? FIRST_DELAY_MS;
    const delay = Math.min(base * 2 ** (failures - 1), MAX_DELAY_MS) * (0.8 + Math.random() * 0.4);
    on.onDropped(delay);
    timer = setTimeout(connect, delay);
  }

  function giveUp(reason) {
    if (stopped) return;
    stopped = true;
    on.onUnavailable(reason);
  }

  connect();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    if (controller) controller.abort();
  };
}
