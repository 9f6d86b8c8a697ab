// The Timeout of a job or a run: seconds, a number > 0, or null for the server's default.
import { api } from './api.js';

export const MAX_TIMEOUT_S = 7 * 24 * 3600; // the server's upper bound
const MIN_TIMEOUT_S = 0.1;

/** Text of an input -> { value } (a number, or null when empty) or { error } in the panel's words. */
export function parseTimeout(text) {
  const t = String(text ?? '').trim();
  if (!t) return { value: null };
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(t)) return { error: '请输入秒数（大于 0 的数字），或留空使用默认' };
  const value = Number(t);
  if (!(value >= MIN_TIMEOUT_S)) return { error: `至少 ${MIN_TIMEOUT_S} 秒` };
  if (value > MAX_TIMEOUT_S) return { error: `最多 ${MAX_TIMEOUT_S} 秒（7 天）` };
  return { value };
}

/** 30 -> "30 秒", 90 -> "90 秒（1 分 30 秒）", null -> "不限". */
export function formatTimeout(seconds) {
  if (seconds === null || seconds === undefined) return '不限';
  const s = Number(seconds);
  if (s < 60) return `${s} 秒`;
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = Math.round((s % 60) * 10) / 10;
  const parts = [d && `${d} 天`, hh && `${hh} 小时`, m && `${m} 分`, rest && `${rest} 秒`].filter(Boolean);
  return `${s} 秒（${parts.join(' ')}）`;
}

let pendingDefaults = null;

/** The server's effective defaults ({ Timeout, OutputLimitBytes, ... }), fetched once; null when unknown. */
export function serverDefaults() {
  if (!pendingDefaults) {
    pendingDefaults = api
      .settings()
      .then((body) => (body && body.Defaults) || null)
      .catch(() => {
        pendingDefaults = null; // an older server, or no token yet: ask again next time
        return null;
      });
  }
  return pendingDefaults;
}

/** A job's Timeout as it applies: its own, else the server's default ("24 小时，默认"), else "不限". */
export function effectiveTimeout(seconds, defaults) {
  if (seconds !== null && seconds !== undefined) return formatTimeout(seconds);
  if (!defaults) return '服务端默认';
  if (defaults.Timeout === null || defaults.Timeout === undefined) return '不限（服务端默认）';
  return `${formatTimeout(defaults.Timeout)}，服务端默认`;
}
