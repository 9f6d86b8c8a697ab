// Statistics: executions of the last N days (daily stacked bars drawn as inline SVG), success rate, the hour of
// day runs start at and their durations, from GET /api/stats/executions; days and app kept in the URL.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { alertBox, button, spinner } from '../ui.js';

const SVG = 'http://www.w3.org/2000/svg';
const STATES = [
  ['Succeeded', '成功', 'var(--ok, #2e9d5b)'],
  ['Failed', '失败', 'var(--danger, #d9534f)'],
  ['Stopped', '已停止', '#9aa0a6'],
  ['Running', '执行中', 'var(--primary, #3a7bd5)'],
  ['Unknown', '未知', '#d0d4d9'],
];
const DAY_CHOICES = [7, 30, 90];

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/** Stacked bars, one per day; each bar's title tells its date and counts. */
function dailyChart(daily) {
  const width = 720;
  const height = 180;
  const top = Math.max(1, ...daily.map((d) => d.Total));
  const slot = width / daily.length;
  const bars = daily.map((day, i) => {
    let y = height;
    const parts = STATES.filter(([key]) => day[key]).map(([key, , color]) => {
      const size = (day[key] / top) * (height - 10);
      y -= size;
      return svg('rect', { x: i * slot + 1, y, width: Math.max(1, slot - 2), height: size, fill: color });
    });
    const words = STATES.filter(([key]) => day[key]).map(([key, label]) => `${label} ${day[key]}`).join('，');
    return svg('g', { 'data-testid': 'stats-day', 'data-date': day.Date, 'data-total': day.Total },
      svg('title', {}, `${day.Date}：${day.Total} 次${words ? `（${words}）` : ''}`), ...parts);
  });
  const axis = svg('line', { x1: 0, y1: height, x2: width, y2: height, stroke: '#c0c4c9' });
  return svg('svg', { viewBox: `0 0 ${width} ${height + 16}`, class: 'stats-chart', role: 'img',
    'aria-label': '每日执行次数', 'data-testid': 'stats-daily-chart' }, ...bars, axis,
    svg('text', { x: 0, y: height + 14, 'font-size': 11, fill: '#666' }, daily[0]?.Date ?? ''),
    svg('text', { x: width, y: height + 14, 'font-size': 11, fill: '#666', 'text-anchor': 'end' },
      daily[daily.length - 1]?.Date ?? ''));
}

function hourlyChart(hourly) {
  const width = 720;
  const height = 100;
  const top = Math.max(1, ...hourly);
  const slot = width / 24;
  const bars = hourly.map((n, hour) => svg('g', { 'data-testid': 'stats-hour', 'data-hour': hour, 'data-count': n },
    svg('title', {}, `${hour}:00–${hour}:59：${n} 次`),
    svg('rect', { x: hour * slot + 2, y: height - (n / top) * (height - 8), width: slot - 4,
      height: (n / top) * (height - 8), fill: 'var(--primary, #3a7bd5)' }),
    svg('text', { x: hour * slot + slot / 2, y: height + 13, 'font-size': 10, fill: '#666', 'text-anchor': 'middle' },
      hour)));
  return svg('svg', { viewBox: `0 0 ${width} ${height + 16}`, class: 'stats-chart', role: 'img',
    'aria-label': '按小时分布', 'data-testid': 'stats-hourly-chart' }, ...bars);
}

function seconds(value) {
  if (value == null) return '—';
  if (value < 60) return `${value.toFixed(value < 10 ? 1 : 0)} 秒`;
  if (value < 3600) return `${(value / 60).toFixed(1)} 分钟`;
  return `${(value / 3600).toFixed(1)} 小时`;
}

function figure(label, value, testid) {
  return h('div', { class: 'stats-figure' }, h('div', { class: 'stats-value', 'data-testid': testid }, value),
    h('div', { class: 'stats-label' }, label));
}

function legend() {
  // swatches in SVG: the panel's CSP allows no inline style attributes
  return h('div', { class: 'stats-legend' }, STATES.map(([, label, color]) =>
    h('span', {}, svg('svg', { width: 10, height: 10, class: 'stats-swatch' },
      svg('rect', { width: 10, height: 10, fill: color })), label)));
}

export function renderStats(root, { query = new URLSearchParams() } = {}) {
  const days = DAY_CHOICES.includes(Number(query.get('days'))) ? Number(query.get('days')) : 30;
  const app = query.get('app') || '';
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const body = h('div', {}, spinner());
  const daySelect = h('select', { 'data-testid': 'stats-days', 'aria-label': '天数',
    onchange: () => go(Number(daySelect.value), appInput.value.trim()) },
  DAY_CHOICES.map((n) => h('option', { value: n }, `最近 ${n} 天`)));
  daySelect.value = String(days);
  const appInput = h('input', { type: 'search', placeholder: '应用名称（全部）', value: app, 'data-testid': 'stats-app',
    onchange: () => go(days, appInput.value.trim()) });
  replace(root, h('section', { class: 'page', 'data-testid': 'stats-page' },
    h('div', { class: 'page-head' }, h('h1', {}, '执行统计'), h('span', { class: 'grow' }), appInput, daySelect,
      button('刷新', () => load(), { testid: 'stats-refresh' })),
    body));

  function go(n, appName) {
    const params = new URLSearchParams();
    if (n !== 30) params.set('days', n);
    if (appName) params.set('app', appName);
    const text = params.toString();
    location.hash = `#/stats${text ? `?${text}` : ''}`;
  }

  async function load() {
    let stats;
    try {
      stats = await api.executionStats({ Days: days, AppName: app || undefined, TimeZone: zone });
    } catch (err) {
      replace(body, alertBox(err));
      return;
    }
    const rate = stats.SuccessRate == null ? '—' : `${(stats.SuccessRate * 100).toFixed(1)}%`;
    replace(body,
      h('div', { class: 'stats-figures' },
        figure('执行次数', stats.Total, 'stats-total'),
        figure('成功率', rate, 'stats-success-rate'),
        figure('耗时 P50', seconds(stats.Durations.P50), 'stats-p50'),
        figure('耗时 P90', seconds(stats.Durations.P90), 'stats-p90'),
        figure('耗时 P99', seconds(stats.Durations.P99), 'stats-p99')),
      h('h2', {}, `每日执行（${stats.TimeZone}）`), legend(), dailyChart(stats.Daily),
      h('h2', {}, '开始时间分布（按小时）'), hourlyChart(stats.Hourly));
  }

  load();
}
