// Run-time parameters in the start dialog: one input per parameter the job declares (${NAME} in its command).
// Values are checked by the server (Required, Pattern); its errors name the parameter and land on its input.
import { h } from './dom.js';

/** { section, inputs, read(), mark(name, text) } for a job's Params; section is null when it declares none. */
export function paramInputs(job) {
  const params = job.Params || [];
  const inputs = {};
  const errors = {};
  const rows = params.map((p) => {
    inputs[p.Name] = h('input', {
      type: 'text',
      autocomplete: 'off',
      value: '',
      placeholder: p.Required ? '必填' : p.Default ?? '',
      'data-testid': 'param-input',
      'data-param': p.Name,
      'aria-label': p.Name,
    });
    errors[p.Name] = h('span', { class: 'field-error', 'data-testid': 'param-error' });
    const hint = [p.Required ? '必填' : `留空则为 ${p.Default ? `“${p.Default}”` : '空值'}`];
    if (p.Pattern) hint.push(`须完整匹配 ${p.Pattern}`);
    inputs[p.Name].addEventListener('input', () => (errors[p.Name].textContent = ''));
    return h(
      'label',
      { class: 'field', 'data-field': `Params.${p.Name}` },
      h('span', { class: 'field-label mono' }, p.Name),
      inputs[p.Name],
      h('span', { class: 'field-hint' }, hint.join('；')),
      errors[p.Name],
    );
  });
  const section = params.length
    ? h(
        'fieldset',
        { class: 'run-params', 'data-testid': 'start-params' },
        h('legend', {}, '参数', h('span', { class: 'field-hint' }, ' 替换命令中的 ${名称}；参数值不保密，会记录在执行结果中')),
        rows,
      )
    : null;
  /** The values typed: an empty optional one is left out (the Default applies), a required one is always sent. */
  function read() {
    const values = {};
    for (const p of params) {
      const value = inputs[p.Name].value;
      if (value !== '' || p.Required) values[p.Name] = value;
    }
    return values;
  }
  /** Put the server's message for `Params.NAME` under its input; false when it names no parameter shown. */
  function mark(message) {
    const m = /^Params\.([A-Za-z_][A-Za-z0-9_]*): (.*)$/.exec(message || '');
    if (!m || !errors[m[1]]) return false;
    errors[m[1]].textContent = m[2];
    return true;
  }
  return { section, read, mark };
}
