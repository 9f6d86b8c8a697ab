// Tiny DOM helpers. Text always goes in as text nodes, never as HTML.

/**
 * h('button', {class: 'btn', 'data-testid': 'x', onclick: fn}, 'label', child, ...)
 * Props named on* become listeners; value/checked/disabled/hidden are set as properties.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'value' || key === 'checked' || key === 'disabled' || key === 'hidden') {
      el[key] = value;
    } else if (key === 'class') {
      el.className = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace all children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function shortId(id, n = 12) {
  return (id || '').slice(0, n);
}

/** Executor ids are unix timestamps ("1496287694.460088"). */
export function formatTime(seconds) {
  const value = Number(seconds);
  if (!Number.isFinite(value)) return String(seconds ?? '');
  const d = new Date(value * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
