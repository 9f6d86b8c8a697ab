// Create / edit a job in a dialog. Resolves with the saved job, or null when cancelled.
import { api } from '../api.js';
import { h } from '../dom.js';
import { describe, fieldErrors } from '../errors.js';
import { parseTimeout } from '../timeout.js';
import { button, modal } from '../ui.js';
import { secretList } from './secrets.js';

// `group`: several controls under one label (a <label> would click the first of them).
function field(label, input, { hint, required = false, name, group = false } = {}) {
  const error = h('div', { class: 'field-error', 'data-testid': `field-error-${name}` });
  const wrap = h(
    group ? 'div' : 'label',
    { class: 'field', 'data-field': name, role: group ? 'group' : null },
    h('span', { class: 'field-label' }, label, required ? h('em', { class: 'req' }, '*') : null),
    input,
    hint ? h('span', { class: 'field-hint' }, hint) : null,
    error,
  );
  return { wrap, error };
}

const lines = (text) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

export function openJobForm(job = null, defaults = {}) {
  const editing = Boolean(job);
  const src = job || { AppName: defaults.AppName || '', Privileged: false, Env: [], SecretArgs: [], Timeout: null };
  const secrets = secretList(src.SecretArgs);
  const inputs = {
    Name: h('input', { type: 'text', value: src.Name || '', 'data-testid': 'job-name', maxlength: 128 }),
    AppName: h('input', { type: 'text', value: src.AppName || '', 'data-testid': 'job-app', maxlength: 128 }),
    ServiceName: h('input', {
      type: 'text',
      value: src.ServiceName || '',
      'data-testid': 'job-service',
      placeholder: '例如 2048_2048',
    }),
    Cmd: h('textarea', { rows: 2, class: 'mono', 'data-testid': 'job-cmd', placeholder: '例如 ps aux' }),
    User: h('input', { type: 'text', value: src.User || '', 'data-testid': 'job-user', placeholder: 'root:root' }),
    Timeout: h('input', {
      type: 'text',
      inputmode: 'decimal',
      value: src.Timeout === null || src.Timeout === undefined ? '' : String(src.Timeout),
      'data-testid': 'job-timeout',
      placeholder: '不限',
      autocomplete: 'off',
    }),
    Privileged: h('input', { type: 'checkbox', checked: Boolean(src.Privileged), 'data-testid': 'job-privileged' }),
    Env: h('textarea', { rows: 3, class: 'mono', 'data-testid': 'job-env', placeholder: 'KEY=VALUE，每行一个' }),
    SecretArgs: secrets.el, // its inputs' events bubble up to it
  };
  inputs.Cmd.value = src.Cmd || '';
  inputs.Env.value = (src.Env || []).join('\n');

  const fields = {
    Name: field('作业名称', inputs.Name, { required: true, name: 'Name' }),
    AppName: field('应用名称', inputs.AppName, { required: true, name: 'AppName' }),
    ServiceName: field('服务名称', inputs.ServiceName, {
      required: true,
      name: 'ServiceName',
      hint: '在该 Swarm 服务的任务容器中执行',
    }),
    Cmd: field('命令', inputs.Cmd, { required: true, name: 'Cmd', hint: '按 shell 规则拆分为参数，不经过 shell 解释' }),
    User: field('用户', inputs.User, { name: 'User', hint: '可选，name、name:group 或 uid:gid' }),
    Env: field('环境变量', inputs.Env, { name: 'Env', hint: '每行一个 KEY=VALUE' }),
    SecretArgs: field('加密参数', secrets.el, {
      name: 'SecretArgs',
      group: true,
      hint: editing
        ? '已保存的参数只显示为 *（每个字符一个）；保持不变即沿用原值。每个输入框一个参数，可含空格'
        : '按顺序追加在命令之后，加密保存，输出中会被屏蔽。每个输入框一个参数，可含空格',
    }),
    Timeout: field('超时（秒）', inputs.Timeout, {
      name: 'Timeout',
      hint: '可选。超时后终止命令，该容器记为失败；留空为不限',
    }),
    Privileged: field('特权模式', h('span', { class: 'check' }, inputs.Privileged, ' 以特权模式执行（privileged）'), {
      name: 'Privileged',
    }),
  };

  const formError = h('div', { class: 'alert alert-error', 'data-testid': 'form-error', hidden: true });
  const form = h(
    'form',
    { class: 'form', novalidate: true, onsubmit: (e) => (e.preventDefault(), save()) },
    formError,
    h('div', { class: 'grid-2' }, fields.Name.wrap, fields.AppName.wrap),
    h('div', { class: 'grid-2' }, fields.ServiceName.wrap, fields.User.wrap),
    fields.Cmd.wrap,
    fields.Env.wrap,
    fields.SecretArgs.wrap,
    h('div', { class: 'grid-2' }, fields.Timeout.wrap, fields.Privileged.wrap),
    // Lets Enter in a text input submit the form.
    h('button', { type: 'submit', hidden: true }),
  );

  const saveBtn = button(editing ? '保存' : '创建', () => save(), { kind: 'primary', testid: 'save-job' });
  const dlg = modal({
    title: editing ? `编辑作业：${job.Name}` : '创建作业',
    body: form,
    actions: [button('取消', () => dlg.close(null), { testid: 'cancel-job' }), saveBtn],
    testid: 'job-form-dialog',
    wide: true,
  });
  inputs.Name.focus();

  // A field's error goes away as soon as it is edited.
  for (const [name, input] of Object.entries(inputs)) {
    input.addEventListener('input', () => {
      fields[name].error.textContent = '';
      fields[name].wrap.classList.remove('invalid');
    });
  }

  function clearErrors() {
    formError.hidden = true;
    for (const f of Object.values(fields)) {
      f.error.textContent = '';
      f.wrap.classList.remove('invalid');
    }
  }

  function markField(name, text) {
    const f = fields[name];
    if (!f) return false;
    f.error.textContent = text;
    f.wrap.classList.add('invalid');
    return true;
  }

  function collect() {
    return {
      Name: inputs.Name.value.trim(),
      AppName: inputs.AppName.value.trim(),
      ServiceName: inputs.ServiceName.value.trim(),
      Cmd: inputs.Cmd.value.trim(),
      User: inputs.User.value.trim(),
      Privileged: inputs.Privileged.checked,
      Env: lines(inputs.Env.value),
      SecretArgs: secrets.values(), // as typed: spaces belong to the secret
      Timeout: parseTimeout(inputs.Timeout.value),
    };
  }

  async function save() {
    clearErrors();
    const body = collect();
    const missing = ['Name', 'AppName', 'ServiceName', 'Cmd'].filter((k) => !body[k]);
    missing.forEach((k) => markField(k, '必填'));
    if (body.Timeout.error) markField('Timeout', body.Timeout.error);
    if (missing.length || body.Timeout.error) return;
    body.Timeout = body.Timeout.value;
    saveBtn.disabled = true;
    try {
      const saved = editing ? await api.updateJob(job.JobId, body) : await api.createJob(body);
      dlg.close(saved);
    } catch (err) {
      const perField = fieldErrors(err);
      const unplaced = Object.entries(perField).filter(([k, v]) => !markField(k, v));
      if (err.id === 'jobs_name_duplicated_error') markField('Name', '同一应用下已有同名作业');
      if (!Object.keys(perField).length || unplaced.length || err.id !== 'invalid_request') {
        formError.textContent = describe(err);
        formError.hidden = false;
      } else {
        formError.textContent = '请修改标红的字段后再保存';
        formError.hidden = false;
      }
    } finally {
      saveBtn.disabled = false;
    }
  }

  return dlg.closed;
}
