// Notices over the composer: what went wrong (or what just happened), in words, with an action.

import { h, iconButton } from "./dom.js";

const INFO_SECONDS = 8;

export class Notices {
  constructor(container) {
    this.container = container;
  }

  /** Say `text`; an error stays until dismissed, news fades. `action` is `{label, run}`. */
  show(text, { error = false, action = null } = {}) {
    const dismiss = () => notice.remove();
    const notice = h(
      "div",
      { class: error ? "notice error" : "notice", role: error ? "alert" : "status" },
      h("p", {}, text),
      action && h("button", { type: "button", class: "quiet", onclick: () => { dismiss(); action.run(); } }, action.label),
      iconButton("close", "Dismiss", dismiss),
    );
    this.container.append(notice);
    if (!error) setTimeout(dismiss, INFO_SECONDS * 1000);
    return notice;
  }

  /** Say what went wrong with `error` (an ApiError, ConnectionLost or anything else). */
  error(error, doing) {
    // One lost connection fails every request at once: say so once.
    const lost = error.name === "ConnectionLost";
    if (lost && this.container.querySelector(".notice.lost")) return null;
    const notice = this.show(`${doing}: ${explain(error)}`, { error: true });
    notice.classList.toggle("lost", lost);
    return notice;
  }

  /** Clear every error: the last thing tried worked. */
  clearErrors() {
    for (const notice of this.container.querySelectorAll(".notice.error")) notice.remove();
  }
}

/** A sentence a person can act on, for each error the API answers with. */
export function explain(error) {
  if (error.status === 429) {
    return `too many requests. Wait ${error.retryAfter ? `${error.retryAfter} seconds` : "a moment"} and try again.`;
  }
  switch (error.code ?? error.name) {
    case "turn_in_progress":
      return "the assistant is still answering in this conversation. Wait a moment, then send again.";
    case "assistant_unavailable":
      return "the assistant could not answer just now. Your message is back in the box: try again.";
    case "ConnectionLost":
      return "the connection to the server was lost. Check that todochat is still running, then try again.";
    case "invalid":
      return error.message;
    case "not_found":
      return "it no longer exists.";
    default:
      return error.message || "something went wrong.";
  }
}
