// What the API's error ids mean, in the panel's words.

const TITLES = {
  job_id_not_found: '作业不存在',
  executor_id_not_found: '执行记录不存在',
  container_id_not_found: '容器不在本次执行中',
  jobs_name_duplicated_error: '作业名称已存在',
  invalid_request: '参数有误',
  invalid_json: '请求格式有误',
  invalid_content_type: '请求格式有误',
  invalid_job: '作业内容有误，请先编辑',
  host_not_allowed: '不允许的访问地址',
  cross_site_request: '拒绝跨站请求',
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

/** One line for a banner: the title, then the server's own words when they add something. */
export function describe(err) {
  if (!(err instanceof ApiError)) return `出错了：${err && err.message ? err.message : err}`;
  const detail = err.message && err.message !== err.id ? err.message : '';
  return detail ? `${err.title}：${detail}` : err.title;
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
