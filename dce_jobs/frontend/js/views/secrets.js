// SecretArgs as one input per argument, so a secret may hold spaces and an empty one keeps its place.
// A stored secret shows as its mask; the mask sent back unchanged at its position keeps the stored secret.
import { h } from '../dom.js';

/** `masks`: the job's SecretArgs as the API shows them. Returns `{ el, values() }`. */
export function secretList(masks) {
  let shown = false;
  const rows = h('div', { class: 'secret-rows', 'data-testid': 'job-secret-list' });

  const reveal = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-link btn-sm',
      'data-testid': 'toggle-secret',
      onclick: () => {
        shown = !shown;
        for (const input of inputs()) input.type = shown ? 'text' : 'password';
        reveal.textContent = shown ? '隐藏' : '显示';
      },
    },
    '显示',
  );
  const add = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-link btn-sm',
      'data-testid': 'add-secret',
      onclick: () => addRow('', false).focus(),
    },
    '添加参数',
  );

  function inputs() {
    return [...rows.querySelectorAll('input')];
  }

  function addRow(value, stored) {
    const input = h('input', {
      type: shown ? 'text' : 'password',
      class: 'mono',
      value,
      'data-testid': 'job-secret-arg',
      'aria-label': `加密参数 ${rows.children.length + 1}`,
      autocomplete: 'new-password',
      spellcheck: 'false',
    });
    // Typing into an unchanged mask replaces it instead of appending to the stars.
    if (stored) input.addEventListener('focus', () => input.value === value && input.select());
    rows.append(h('div', { class: 'secret-row', 'data-testid': 'secret-row' }, input));
    placeRemove();
    return input;
  }

  // Only the last argument can be removed: stored secrets are kept by position, so removing one in the middle
  // would move the masks after it onto other secrets.
  function placeRemove() {
    rows.querySelectorAll('[data-testid="remove-secret"]').forEach((b) => b.remove());
    const last = rows.lastElementChild;
    if (!last) return;
    last.append(
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn-link-danger btn-sm',
          'data-testid': 'remove-secret',
          onclick: () => {
            last.remove();
            placeRemove();
            rows.dispatchEvent(new Event('input', { bubbles: true }));
          },
        },
        '删除',
      ),
    );
  }

  (masks || []).forEach((mask) => addRow(mask, true));
  const el = h('div', { class: 'secret-list' }, rows, h('div', { class: 'with-action' }, add, reveal));
  return { el, values: () => inputs().map((i) => i.value) };
}
