// HTTP API client for the pages: JSON in and out, errors turned into ApiError values with the
// server's code ({"error":{"code","message"}}). It does not retry and knows no endpoints.

export class ApiError extends Error {
  /** status: HTTP status (0 when the server could not be reached); code: the server's code. */
  constructor(status, code, message, body) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.body = body || null;
  }
}

/**
 * Calls the API. Returns {status, data}. Throws ApiError: status 0 + code 'network' when the
 * server is unreachable; otherwise the server's error code (or 'http_<status>').
 */
export async function api(method, path, body, { timeoutMs = 15000 } = {}) {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, signal: ctrl.signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'The server could not be reached.');
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    const text = await res.text();
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const code = err.code || (res.status >= 500 ? 'unavailable' : `http_${res.status}`);
    throw new ApiError(res.status, code, err.message || res.statusText, data && data.error);
  }
  return { status: res.status, data };
}

/** Unwraps a list that the server may send bare or wrapped as {key:[...]}. */
export function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[key])) return data[key];
  return [];
}
