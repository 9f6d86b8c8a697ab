// Create / edit a job in a dialog. Resolves with the saved job, or null when cancelled.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { details, fieldErrors, fieldMessage, titleOf } from '../errors.js';
import { readRolling, rollingHint, rollingInputs, rollingLabel, ROLLING_FIELDS } from '../rolling.js';
import { effectiveTimeout, parseTimeout, serverDefaults } from '../timeout.js';
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
      placeholder: '默认',
      autocomplete: 'off',
    }),
    Privileged: h('input', { type: 'checkbox', checked: Boolean(src.Privileged), 'data-testid': 'job-privileged' }),
    Env: h('textarea', { rows: 3, class: 'mono', 'data-testid': 'job-env', placeholder: 'KEY=VALUE，每行一个' }),
    SecretArgs: secrets.el, // its inputs' events bubble up to it
    ...rollingInputs(src),
    Retries: h('input', {
      type: 'text',
      inputmode: 'numeric',
      value: src.Retries ? String(src.Retries) : '',
      placeholder: '0',
      autocomplete: 'off',
      'data-testid': 'job-retries',
    }),
    RetryDelay: h('input', {
      type: 'text',
      inputmode: 'decimal',
      value: src.RetryDelay ? String(src.RetryDelay) : '',
      placeholder: '0',
      autocomplete: 'off',
      'data-testid': 'job-retrydelay',
    }),
    StatusHook: h('input', {
      type: 'text',
      inputmode: 'url',
      value: src.StatusHook || '',
      placeholder: 'https://ci.example.com/hooks/dce',
      autocomplete: 'off',
      'data-testid': 'job-statushook',
    }),
  };
  const rollingEvents = { FailureAction: 'change' };
  inputs.Cmd.value = src.Cmd || '';
  inputs.Env.value = (src.Env || []).join('\n');

  const timeoutHint = h('span', { 'data-testid': 'job-timeout-hint' });
  const showDefault = (defaults) =>
    (timeoutHint.textContent = `可选。超时后终止命令，该容器记为失败；留空使用服务端默认（${effectiveTimeout(null, defaults)}）`);
  showDefault(null);
  serverDefaults().then(showDefault);
  const picker = servicePicker(inputs);

  const fields = {
    Name: field('作业名称', inputs.Name, { required: true, name: 'Name' }),
    AppName: field('应用名称', inputs.AppName, {
      required: true,
      name: 'AppName',
      hint: 'DCE 的应用，即 Swarm 的 stack（服务的 com.docker.stack.namespace 标签）',
    }),
    ServiceName: field('服务名称', inputs.ServiceName, {
      required: true,
      name: 'ServiceName',
      hint: '在该 Swarm 服务的任务容器中执行，通常为「应用_服务」；尚未部署的服务也可填写',
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
      hint: timeoutHint,
    }),
    ...Object.fromEntries(
      ROLLING_FIELDS.map((name) => [name, field(rollingLabel(name), inputs[name], { name, hint: rollingHint(name) })]),
    ),
    Retries: field('自动重试次数', inputs.Retries, {
      name: 'Retries',
      hint: '0 到 10；失败的容器在新的执行中重试，最多这么多次；手动停止的执行不重试',
    }),
    RetryDelay: field('重试间隔（秒）', inputs.RetryDelay, { name: 'RetryDelay', hint: '执行结束后等多少秒再重试' }),
    StatusHook: field('状态通知地址', inputs.StatusHook, {
      name: 'StatusHook',
      hint: '可选，http(s) 地址；执行结束时 POST 带签名（X-DCE-Jobs-Signature）的 JSON 摘要，不含输出和加密参数',
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
    picker.wrap,
    h('div', { class: 'grid-2' }, fields.Name.wrap, fields.AppName.wrap),
    h('div', { class: 'grid-2' }, fields.ServiceName.wrap, fields.User.wrap),
    fields.Cmd.wrap,
    fields.Env.wrap,
    fields.SecretArgs.wrap,
    h('div', { class: 'grid-2' }, fields.Timeout.wrap, fields.Privileged.wrap),
    h(
      'fieldset',
      { class: 'rolling', 'data-testid': 'job-rolling' },
      h('legend', {}, '分批执行', h('span', { class: 'field-hint' }, ' 像 Swarm 滚动更新一样分批在容器中执行（可选）')),
      h('div', { class: 'grid-2' }, fields.Parallelism.wrap, fields.Delay.wrap),
      h('div', { class: 'grid-2' }, fields.FailureAction.wrap, fields.MaxFailureRatio.wrap),
    ),
    h(
      'fieldset',
      { class: 'rolling', 'data-testid': 'job-followups' },
      h('legend', {}, '重试与通知', h('span', { class: 'field-hint' }, ' 可选')),
      h('div', { class: 'grid-2' }, fields.Retries.wrap, fields.RetryDelay.wrap),
      fields.StatusHook.wrap,
    ),
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
    input.addEventListener(rollingEvents[name] || 'input', () => {
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

  // `text` is the panel's own words, or the server's message ({ text, details }: its English on a second line).
  function markField(name, text) {
    const f = fields[name];
    if (!f) return false;
    if (typeof text === 'string') f.error.textContent = text;
    else replace(f.error, text.text, text.details ? h('div', { class: 'field-error-details' }, text.details) : null);
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

  // Empty means the default: all at once, no delay, continue, any failure counts.
  function collectRolling() {
    const { values, errors } = readRolling(inputs);
    const defaults = { Parallelism: 0, Delay: 0, FailureAction: 'continue', MaxFailureRatio: 0 };
    for (const name of ROLLING_FIELDS) if (values[name] === null) values[name] = defaults[name];
    return { values, errors };
  }

  // Empty means none: no automatic retry, no delay, no hook.
  function collectFollowUps() {
    const values = {};
    const errors = {};
    const retries = inputs.Retries.value.trim();
    if (!retries) values.Retries = 0;
    else if (/^\d+$/.test(retries)) values.Retries = Number(retries);
    else errors.Retries = '请输入 0 到 10 的整数';
    const delay = inputs.RetryDelay.value.trim();
    if (!delay) values.RetryDelay = 0;
    else if (/^\d+(\.\d+)?$|^\.\d+$/.test(delay)) values.RetryDelay = Number(delay);
    else errors.RetryDelay = '请输入秒数（0 或正数）';
    values.StatusHook = inputs.StatusHook.value.trim();
    return { values, errors };
  }

  async function save() {
    clearErrors();
    const body = collect();
    const missing = ['Name', 'AppName', 'ServiceName', 'Cmd'].filter((k) => !body[k]);
    missing.forEach((k) => markField(k, '必填'));
    if (body.Timeout.error) markField('Timeout', body.Timeout.error);
    const rolling = collectRolling();
    Object.entries(rolling.errors).forEach(([k, text]) => markField(k, text));
    const followUps = collectFollowUps();
    Object.entries(followUps.errors).forEach(([k, text]) => markField(k, text));
    if (missing.length || body.Timeout.error || Object.keys(rolling.errors).length) return;
    if (Object.keys(followUps.errors).length) return;
    body.Timeout = body.Timeout.value;
    Object.assign(body, rolling.values, followUps.values);
    saveBtn.disabled = true;
    try {
      const saved = editing ? await api.updateJob(job.JobId, body) : await api.createJob(body);
      dlg.close(saved);
    } catch (err) {
      const perField = fieldErrors(err);
      const unplaced = Object.entries(perField).filter(([k, v]) => !markField(k, fieldMessage(v)));
      if (err.id === 'jobs_name_duplicated_error') markField('Name', '同一应用下已有同名作业');
      if (!Object.keys(perField).length || unplaced.length || err.id !== 'invalid_request') {
        // In the panel's words, with the server's own on a details line.
        const more = details(err);
        replace(formError, h('div', {}, titleOf(err)), more ? h('div', { class: 'alert-details' }, more) : null);
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

/**
 * The swarm's services grouped by app; picking one fills ServiceName and AppName. Typing stays possible
 * (a service may be deployed later), and the form works the same when the list cannot be fetched.
 */
function servicePicker(inputs) {
  const select = h('select', { 'data-testid': 'job-service-picker', 'aria-label': '选择服务', disabled: true });
  const state = h('span', { class: 'field-hint', 'data-testid': 'job-service-picker-state' }, '正在获取集群中的服务…');
  const wrap = h(
    'label',
    { class: 'field', 'data-field': 'ServicePicker' },
    h('span', { class: 'field-label' }, '从集群选择服务'),
    select,
    state,
  );
  let services = [];
  const replicas = (s) => `${s.Replicas.Running}/${s.Replicas.Desired ?? '?'}`;
  select.addEventListener('change', () => {
    const chosen = services.find((s) => s.ServiceName === select.value);
    if (!chosen) return;
    inputs.ServiceName.value = chosen.ServiceName;
    if (chosen.AppName) inputs.AppName.value = chosen.AppName;
    for (const input of [inputs.ServiceName, inputs.AppName]) input.dispatchEvent(new Event('input'));
  });
  inputs.ServiceName.addEventListener('input', () => {
    select.value = services.some((s) => s.ServiceName === inputs.ServiceName.value.trim())
      ? inputs.ServiceName.value.trim()
      : '';
  });
  api
    .services()
    .then((list) => {
      services = list || [];
      const apps = new Map();
      for (const s of services) {
        if (!apps.has(s.AppName)) apps.set(s.AppName, []);
        apps.get(s.AppName).push(s);
      }
      replace(
        select,
        h('option', { value: '' }, services.length ? '请选择…' : '集群中没有服务'),
        [...apps].map(([app, group]) =>
          h(
            'optgroup',
            { label: app ? `应用 ${app}` : '不属于应用的服务' },
            group.map((s) =>
              h(
                'option',
                { value: s.ServiceName, 'data-app': s.AppName, title: s.Image },
                `${s.ServiceName}（运行 ${replicas(s)} · ${s.Image}）`,
              ),
            ),
          ),
        ),
      );
      select.disabled = !services.length;
      select.value = services.some((s) => s.ServiceName === inputs.ServiceName.value) ? inputs.ServiceName.value : '';
      state.textContent = `共 ${services.length} 个服务，按应用分组；选择后自动填写应用名称和服务名称`;
    })
    .catch((err) => {
      replace(select, h('option', { value: '' }, '无法获取'));
      state.textContent = `无法获取集群中的服务（${titleOf(err)}），请直接填写服务名称`;
      state.dataset.state = 'error';
    });
  return { wrap, select };
}
