// The dce-jobs HTTP API, with the API token kept for the browser session.
import { ApiError } from './errors.js';

const TOKEN_KEY = 'dce-jobs.api-token';

let promptForToken = async () => null;
let pendingPrompt = null;
const tokenListeners = new Set();

/** `fn(rejected: boolean) -> Promise<string|null>` asks the person for a token. */
export function setTokenPrompt(fn) {
  promptForToken = fn;
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  tokenListeners.forEach((fn) => fn(getToken()));
}

export function onTokenChange(fn) {
  tokenListeners.add(fn);
}

// Relative URLs so the panel also works behind DCE's plugin proxy, which serves it under a path prefix.
function url(path, query) {
  const u = new URL(path.replace(/^\//, ''), document.baseURI);
  for (const [k, v] of Object.entries(query || {})) if (v) u.searchParams.set(k, v);
  return u;
}

// Several requests may hit 401 together: they share one prompt.
async function askToken(rejected) {
  if (!pendingPrompt) {
    pendingPrompt = Promise.resolve(promptForToken(rejected)).finally(() => {
      pendingPrompt = null;
    });
  }
  return pendingPrompt;
}

async function send(method, path, { body, query, headers: extra, signal } = {}) {
  for (;;) {
    const sent = getToken();
    const headers = { Accept: 'application/json', ...extra };
    if (sent) headers.Authorization = `Bearer ${sent}`;
    // Every state-changing route needs it, also without a body (the server's defense against cross-site writes).
    if (method !== 'GET') headers['Content-Type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(url(path, query), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        signal,
      });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network_error', e.message);
    }
    if (resp.status !== 401) return resp;
    // Someone else may have entered a new token while this request was in flight.
    if (getToken() && getToken() !== sent) continue;
    if (sent) setToken('');
    const token = await askToken(Boolean(sent));
    if (!token) throw await toError(resp, sent ? 'token_rejected' : 'unauthorized');
    setToken(token);
  }
}

async function toError(resp, forcedId) {
  let id = '';
  let message = '';
  try {
    const data = await resp.clone().json();
    id = data.id || '';
    message = data.message || '';
  } catch {
    message = (await resp.text().catch(() => '')).slice(0, 300) || resp.statusText;
  }
  return new ApiError(resp.status, forcedId || id, message);
}

async function json(method, path, options) {
  const resp = await send(method, path, options);
  if (!resp.ok) throw await toError(resp);
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

/** A page of a list: its entries and the number of all matches (the X-Total-Count header). */
async function page(path, query) {
  const resp = await send('GET', path, { query });
  if (!resp.ok) throw await toError(resp);
  const items = await resp.json();
  const header = resp.headers.get('X-Total-Count');
  const total = header === null ? NaN : Number(header);
  return { items, total: Number.isFinite(total) ? total : items.length };
}

const enc = encodeURIComponent;

export const api = {
  // { AppName, ServiceName, Name, LastState, Sort, Page, Size, ... }, each optional: { items, total }
  findJobs: (query) => page('api/jobs', query),
  // One job's executions, newest first: { State, CreatedAfter, CreatedBefore, Page, Size }, each optional
  jobExecutions: (jobId, query) => page(`api/jobs/${enc(jobId)}/executors`, query),
  // Executions across jobs, newest first: the same plus AppName and ServiceName
  executions: (query) => page('api/executors', query),
  getJob: (jobId) => json('GET', `api/jobs/${enc(jobId)}`),
  createJob: (job) => json('POST', 'api/jobs', { body: job }),
  updateJob: (jobId, job) => json('PUT', `api/jobs/${enc(jobId)}`, { body: job }),
  deleteJob: (jobId) => json('DELETE', `api/jobs/${enc(jobId)}`),
  // overrides ({ Timeout, Parallelism, Delay, FailureAction, MaxFailureRatio }, each optional) apply to this run
  // only; a field left out (or null) keeps the job's.
  startJob: (jobId, targets, overrides = {}) => {
    const body = { Target: targets };
    for (const [key, value] of Object.entries(overrides)) if (value != null) body[key] = value;
    return json('POST', `api/jobs/${enc(jobId)}/start`, { body });
  },
  stopExecution: (jobId, executorId) => json('POST', `api/jobs/${enc(jobId)}/executors/${enc(executorId)}/stop`),
  // Without a body the server retries the targets that did not finish with exit code 0, each in the current task
  // of its Swarm slot; { FollowSlots: false } pins the very same containers.
  retryExecution: (jobId, executorId, body) =>
    json('POST', `api/jobs/${enc(jobId)}/executors/${enc(executorId)}/retry`, { body }),
  // A paused rolling execution starts its waiting targets again.
  resumeExecution: (jobId, executorId) =>
    json('POST', `api/jobs/${enc(jobId)}/executors/${enc(executorId)}/resume`, { body: {} }),
  listSchedules: (jobId) => json('GET', `api/jobs/${enc(jobId)}/schedules`),
  createSchedule: (jobId, body) => json('POST', `api/jobs/${enc(jobId)}/schedules`, { body }),
  updateSchedule: (jobId, scheduleId, body) =>
    json('PUT', `api/jobs/${enc(jobId)}/schedules/${enc(scheduleId)}`, { body }),
  deleteSchedule: (jobId, scheduleId) => json('DELETE', `api/jobs/${enc(jobId)}/schedules/${enc(scheduleId)}`),
  inspect: (jobId, executorId) => json('GET', `api/jobs/${enc(jobId)}/inspect/${enc(executorId)}`),
  // { Days, AppName, JobId, TimeZone }, each optional
  executionStats: (query) => json('GET', 'api/stats/executions', { query }),
  services: () => json('GET', 'api/services'),
  settings: () => json('GET', 'api/settings'),
  containers: (serviceName) => json('GET', `api/services/${enc(serviceName)}/containers`),
  // The execution's event stream (Server-Sent Events), as the raw response: the caller reads its body. With
  // lastEventId the server resumes after that event.
  events: (jobId, executorId, { lastEventId, signal } = {}) =>
    send('GET', `api/jobs/${enc(jobId)}/executors/${enc(executorId)}/events`, {
      headers: { Accept: 'text/event-stream', ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) },
      signal,
    }),
  errorOf: (resp) => toError(resp),
  download: (jobId, executorId, containerId, stream) =>
    download(`api/jobs/${enc(jobId)}/log/${enc(executorId)}`, { ContainerId: containerId, Stream: stream }),
};

// A plain link cannot carry the Authorization header, so logs are fetched and saved from a blob.
async function download(path, query) {
  const resp = await send('GET', path, { query });
  if (!resp.ok) throw await toError(resp);
  const blob = await resp.blob();
  const name = filenameOf(resp.headers.get('Content-Disposition')) || 'dce-jobs.log';
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
  return name;
}

function filenameOf(disposition) {
  if (!disposition) return '';
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  if (star) {
    try {
      return decodeURIComponent(star[1]);
    } catch {
      /* fall back to the plain name */
    }
  }
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  return plain ? plain[1] : '';
}
