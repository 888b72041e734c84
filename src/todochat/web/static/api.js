// The todochat HTTP API, as the signed-in user.

import { readEvents } from "./sse.js";

/** The server answered with an error (its body is `{error, detail, fields}`). */
export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    super(body?.detail || `the server answered ${status}`);
    this.status = status;
    this.code = body?.error ?? null;
    this.retryAfter = retryAfter;
  }
}

/** The request or its answer did not make it: the server is unreachable or the link broke. */
export class ConnectionLost extends Error {
  constructor() {
    super("the connection to the server was lost");
    this.name = "ConnectionLost";
  }
}

export class Api {
  /** `onRefused(error)` runs when the server refuses the token (401) or the user (403). */
  constructor(token, userId, onRefused) {
    this.token = token;
    this.base = `/api/${encodeURIComponent(userId)}`;
    this.onRefused = onRefused;
  }

  /** The response to one request, or ApiError / ConnectionLost. */
  async request(method, path, { body, headers = {}, signal } = {}) {
    const init = {
      method,
      signal,
      cache: "no-store",
      headers: { Authorization: `Bearer ${this.token}`, ...headers },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(this.base + path, init);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ConnectionLost();
    }
    if (response.ok) return response;
    const error = new ApiError(response.status, await response.json().catch(() => null), response.headers.get("Retry-After"));
    if (response.status === 401 || response.status === 403) this.onRefused(error);
    throw error;
  }

  /** The decoded JSON answer (null for 204). */
  async json(method, path, options) {
    const response = await this.request(method, path, options);
    if (response.status === 204) return null;
    try {
      return await response.json();
    } catch {
      throw new ConnectionLost();
    }
  }

  get(path, options) {
    return this.json("GET", path, options);
  }

  /**
   * One chat turn as events `{event, data}`: `conversation`, `delta`, `tool_call`, `done`, `error`.
   * Asks for Server-Sent Events; a plain JSON answer is replayed as the same events.
   */
  async *chat(conversationId, message, idempotencyKey) {
    const response = await this.request("POST", "/chat", {
      body: { conversation_id: conversationId, message },
      headers: { Accept: "text/event-stream", "Idempotency-Key": idempotencyKey },
    });
    const type = response.headers.get("Content-Type") ?? "";
    try {
      if (type.startsWith("text/event-stream")) {
        for await (const { event, data } of readEvents(response.body)) yield { event, data: JSON.parse(data) };
        return;
      }
      const answer = await response.json();
      yield { event: "conversation", data: { conversation_id: answer.conversation_id } };
      for (const call of answer.tool_calls) yield { event: "tool_call", data: call };
      yield { event: "delta", data: { text: answer.response } };
      yield { event: "done", data: answer };
    } catch (error) {
      if (error instanceof SyntaxError || error instanceof TypeError) throw new ConnectionLost();
      throw error;
    }
  }
}

/** A fresh key naming one attempt at a message, so a resend after a lost answer is not run twice. */
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
