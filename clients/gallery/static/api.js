// How the gallery's pages call its JSON API (same origin): the answer's JSON, or an ApiError that
// carries the server's message and its errors per field. Loaded before each page's own script.
"use strict";

class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `request failed (${status})`);
    this.status = status;
    this.fields = error.fields || {};
  }
}

function apiAt(base) {
  return async function api(method, path, body) {
    const options = { method, headers: { accept: "application/json" } };
    if (body !== undefined) {
      options.headers["content-type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(base + path, options);
    } catch (exc) {
      throw new ApiError(0, { error: { message: "the gallery cannot be reached; check your connection" } });
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  };
}
