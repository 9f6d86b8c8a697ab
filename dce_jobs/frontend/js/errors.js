// What the API's error ids mean, in the panel's words.

const TITLES = {
  job_id_not_found: '作业不存在',
  executor_id_not_found: '执行记录不存在',
  schedule_id_not_found: '定时执行不存在',
  execution_owned_elsewhere: '该执行由另一个 dce-jobs 副本运行，请在该副本上操作或等待结束',
  container_id_not_found: '容器不在本次执行中',
  jobs_name_duplicated_error: '作业名称已存在',
  invalid_request: '参数有误',
  invalid_params: '运行参数不符合要求',
  invalid_json: '请求格式有误',
  invalid_content_type: '请求格式有误（需要 JSON）',
  invalid_job: '作业内容有误，请先编辑',
  host_not_allowed: '不允许的访问地址',
  cross_site_request: '拒绝跨站请求',
  execution_running: '执行尚未结束，请先停止或等待结束',
  executor_id_taken: '执行 ID 冲突，请重试',
  conflict: '与现有数据冲突',
  not_found: '请求的地址不存在',
  method_not_allowed: '不支持该请求方法',
  secret_undecryptable: '加密参数无法解密（密钥已更换？）',
  config_error: '服务配置有误',
  service_not_checked: '无法确认服务是否存在',
  app_name_mismatch: '服务属于另一个应用',
  service_not_found: '服务不存在',
  no_running_containers: '服务没有运行中的容器',
  target_not_in_service: '所选容器不属于该服务',
  node_id_mismatch: '容器与节点不匹配',
  duplicate_target: '容器重复',
  container_id_ambiguous: '容器 ID 不唯一',
  nothing_to_retry: '没有需要重试的容器',
  node_unreachable: '无法连接节点的 Docker 引擎',
  container_unavailable: '容器不可用',
  engine_error: 'Docker 引擎出错',
  unauthorized: '需要 API 令牌',
  token_rejected: 'API 令牌被拒绝',
  payload_too_large: '请求内容过大',
  store_unavailable: '存储不可用',
  shutting_down: '服务正在停止',
  internal_error: '服务器内部错误',
  network_error: '无法连接 dce-jobs 服务',
};

export class ApiError extends Error {
  constructor(status, id, message) {
    super(message || id);
    this.status = status;
    this.id = id || `http_${status}`;
  }

  get title() {
    return TITLES[this.id] || `请求失败（HTTP ${this.status}）`;
  }
}

/** The server's own words, when they add something to the title (shown as a details line). */
export function details(err) {
  if (!(err instanceof ApiError)) return '';
  return err.message && err.message !== err.id ? err.message : '';
}

/** One line for a toast: the title, then the server's own words when they add something. */
export function describe(err) {
  if (!(err instanceof ApiError)) return `出错了：${err && err.message ? err.message : err}`;
  const detail = details(err);
  return detail ? `${err.title}：${detail}` : err.title;
}

/** The title of an error in the panel's words (a non-API error keeps its message). */
export function titleOf(err) {
  return err instanceof ApiError ? err.title : `出错了：${err && err.message ? err.message : err}`;
}

// Warnings of a saved job ({"id", "message"}): titles in the panel's words.
const WARNINGS = {
  service_not_found: '服务暂不存在：作业已保存，服务部署后即可执行',
  service_not_checked: '无法确认服务是否存在：作业已保存',
  app_name_mismatch: '该服务属于另一个应用：作业已保存',
};

export function warningTitle(warning) {
  return WARNINGS[warning.id] || TITLES[warning.id] || '提示';
}

// The validation messages of the server's fields, in the panel's words (the English stays as details).
const FIELD_MESSAGES = [
  [/^Missing data for required field\.?$/, () => '必填'],
  [/^Must not be empty\.?$/, () => '不能为空'],
  [/^Field may not be null\.?$/, () => '不能为空'],
  [/^Unknown field\.?$/, () => '未知字段'],
  [/^Not a valid string\.?$/, () => '应为文本'],
  [/^Not a valid list\.?$/, () => '应为列表'],
  [/^Not a valid number\.?$/, () => '应为数字'],
  [/^Not a valid integer\.?$/, () => '应为整数'],
  [/^Must be one of: (.+?)\.?$/, (m) => `应为 ${m[1].split(', ').join('、')} 之一`],
  [/^Not a JSON boolean/, () => '应为 true 或 false'],
  [/^Not a valid Docker service name\.?$/, () => '不是有效的 Docker 服务名称'],
  [/^Must look like name, name:group or uid\[:gid\]\.?$/, () => '格式应为 name、name:group 或 uid:gid'],
  [/^Must be KEY=VALUE with a valid KEY\.?$/, () => '格式应为 KEY=VALUE（KEY 以字母或下划线开头）'],
  [/^Must contain a command\.?$/, () => '需要包含命令'],
  [/^Cannot be split into arguments with shell rules/, () => '无法按 shell 规则拆分为参数（引号未闭合？）'],
  [/^Longer than maximum length (\d+)\.?$/, (m) => `长度不能超过 ${m[1]}`],
  [/^Shorter than minimum length (\d+)\.?$/, (m) => `长度至少为 ${m[1]}`],
  [/^Length must be between (\d+) and (\d+)\.?$/, (m) => `长度应在 ${m[1]} 到 ${m[2]} 之间`],
  [/^Must be greater than or equal to ([\d.]+) and less than or equal to ([\d.]+)\.?$/, (m) => `应在 ${Number(m[1])} 到 ${Number(m[2])} 之间`],
  [/^Container \S+ is listed twice\.?$/, () => '容器重复'],
];

/** { text, details }: a field's message in the panel's words, and the server's words when they differ. */
export function fieldMessage(message) {
  const words = String(message || '').trim();
  const parts = words.split(/(?<=\.) (?=[A-Z])/);
  const texts = parts.map((part) => {
    for (const [pattern, say] of FIELD_MESSAGES) {
      const m = pattern.exec(part);
      if (m) return say(m);
    }
    return null;
  });
  if (texts.some((t) => t === null)) return { text: '取值有误', details: words };
  return { text: [...new Set(texts)].join('；'), details: words };
}

/**
 * invalid_request messages read "Field: why; Other.0: why" — split them so the form can mark fields.
 */
export function fieldErrors(err) {
  const out = {};
  if (!(err instanceof ApiError) || err.id !== 'invalid_request') return out;
  for (const part of err.message.split('; ')) {
    const m = /^([A-Za-z]+)(?:\.\d+)?: (.*)$/s.exec(part);
    if (m) out[m[1]] = out[m[1]] ? `${out[m[1]]} ${m[2]}` : m[2];
  }
  return out;
}
