// The conversation on screen: its messages, older pages, and the composer that sends a turn.

import { ApiError, ConnectionLost, newIdempotencyKey } from "./api.js";
import { h } from "./dom.js";

const PAGE = 30;
const DRAFT = "todochat.draft";
const OPEN = "todochat.conversation";
const NEAR_BOTTOM_PX = 48;

export class Chat {
  /** `events.turnEnded()` and `events.opened(id)` let the page refresh what a turn changed. */
  constructor(api, notices, elements, events) {
    Object.assign(this, { api, notices, events, ...elements });
    this.conversationId = null;
    this.before = null;
    this.generation = 0;
    this.busy = false;
    this.loadingOlder = false;
    this.retry = null; // {text, key} of a message whose answer was lost
    this.input.value = sessionStorage.getItem(DRAFT) ?? "";
    this.input.addEventListener("input", () => sessionStorage.setItem(DRAFT, this.input.value));
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.older.addEventListener("click", () => this.loadOlder());
    // Scrolling back to the top reads the page before.
    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.loadOlder();
    }, { root: this.log }).observe(this.older);
    for (const button of this.welcome.querySelectorAll(".suggestion")) {
      button.addEventListener("click", () => {
        this.input.value = button.textContent;
        this.input.focus();
      });
    }
  }

  /** The conversation open when the tab was last used, if any. */
  static remembered() {
    const id = Number(sessionStorage.getItem(OPEN));
    return Number.isInteger(id) && id > 0 ? id : null;
  }

  /** Show an empty, new conversation. */
  startNew() {
    this.generation += 1;
    this.show(null, "New conversation");
    this.messages.replaceChildren();
    this.before = null;
    this.older.hidden = true;
    this.welcome.hidden = false;
    this.input.focus();
  }

  /** Show conversation `id`, titled `title`, from its latest messages. */
  async open(id, title) {
    const generation = ++this.generation;
    this.show(id, title);
    this.welcome.hidden = true;
    this.older.hidden = true;
    this.messages.replaceChildren();
    let page;
    try {
      page = await this.api.get(`/conversations/${id}/messages?limit=${PAGE}`);
    } catch (error) {
      if (generation !== this.generation) return;
      if (error instanceof ApiError && error.status === 404) return this.startNew();
      this.notices.error(error, "Could not load this conversation");
      return;
    }
    if (generation !== this.generation) return;
    this.messages.replaceChildren(...this.stored(page.items));
    this.setBefore(page.next_before);
    this.welcome.hidden = page.items.length > 0;
    this.log.scrollTop = this.log.scrollHeight;
  }

  show(id, title) {
    this.conversationId = id;
    if (id === null) sessionStorage.removeItem(OPEN);
    else sessionStorage.setItem(OPEN, String(id));
    this.title.textContent = title;
    this.events.opened(id);
  }

  /** Rename the title bar when the open conversation is renamed. */
  retitle(id, title) {
    if (id === this.conversationId) this.title.textContent = title;
  }

  setBefore(before) {
    this.before = before;
    this.older.hidden = before === null;
  }

  async loadOlder() {
    if (this.before === null || this.loadingOlder) return;
    this.loadingOlder = true;
    const generation = this.generation;
    try {
      const page = await this.api.get(`/conversations/${this.conversationId}/messages?limit=${PAGE}&before=${this.before}`);
      if (generation !== this.generation) return;
      // Keep what the person was reading where it was on screen.
      const fromBottom = this.log.scrollHeight - this.log.scrollTop;
      this.messages.prepend(...this.stored(page.items));
      this.setBefore(page.next_before);
      this.log.scrollTop = this.log.scrollHeight - fromBottom;
    } catch (error) {
      this.notices.error(error, "Could not load older messages");
    } finally {
      this.loadingOlder = false;
    }
  }

  /** The list items for stored messages: the person's words, each answer with the tool calls it made. */
  stored(items) {
    const elements = [];
    let reply = null;
    for (const message of items) {
      if (message.role === "tool") {
        reply ??= new Reply("");
        const [call] = message.tool_calls ?? [{}];
        const [outcome] = message.tool_results ?? [{}];
        reply.addTool({ tool: call.tool, arguments: call.arguments, result: "error" in outcome ? { error: outcome.error } : outcome.result });
      } else if (message.role === "assistant") {
        reply ??= new Reply("");
        if (message.metadata?.error) reply.fail();
        reply.setText(message.content);
        elements.push(reply.element);
        reply = null;
      } else if (message.role === "user") {
        if (reply) elements.push(reply.element); // calls of a turn that never answered
        reply = null;
        elements.push(userMessage(message.content));
      }
    }
    if (reply) elements.push(reply.element);
    return elements;
  }

  nearBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < NEAR_BOTTOM_PX;
  }

  /** Append `element` to the log, following it if the person was reading the end. */
  append(element) {
    const follow = this.nearBottom();
    this.messages.append(element);
    if (follow) this.log.scrollTop = this.log.scrollHeight;
  }

  /** Send the typed message and show the answer as it is written. */
  async send() {
    const text = this.input.value;
    if (this.busy || !text.trim()) return;
    // A resend of a message whose answer was lost reuses its key: the server answers once.
    const key = this.retry?.text === text ? this.retry.key : newIdempotencyKey();
    this.retry = null;
    this.busy = true;
    this.sendButton.disabled = true;
    this.log.setAttribute("aria-busy", "true");
    this.input.value = "";
    sessionStorage.removeItem(DRAFT);
    this.welcome.hidden = true;
    const generation = this.generation;
    const startedIn = this.conversationId;
    const question = userMessage(text);
    const reply = new Reply("writing");
    this.append(question);
    this.append(reply.element);
    const follow = () => generation === this.generation && this.nearBottom();
    let turnConversation = startedIn;
    try {
      let answered = false;
      for await (const { event, data } of this.api.chat(startedIn, text, key)) {
        const following = follow();
        if (event === "conversation") {
          turnConversation = data.conversation_id;
          if (generation === this.generation && this.conversationId === null) this.show(turnConversation, text);
        } else if (event === "delta") reply.addText(data.text);
        else if (event === "tool_call") reply.addTool(data);
        else if (event === "done") {
          reply.setText(data.response);
          answered = true;
        } else if (event === "error") throw new ApiError(502, data);
        if (following) this.log.scrollTop = this.log.scrollHeight;
      }
      if (!answered) throw new ConnectionLost();
      reply.finish();
      this.notices.clearErrors();
    } catch (error) {
      question.remove();
      reply.element.remove();
      this.giveBack(text);
      if (error instanceof ConnectionLost) this.retry = { text, key };
      this.notices.error(error, "Your message was not answered");
      // The server may have kept the message (and said why it failed): show what it holds.
      if (error.code === "assistant_unavailable" && turnConversation !== null && generation === this.generation) {
        await this.open(turnConversation, this.title.textContent);
      }
    } finally {
      this.busy = false;
      this.sendButton.disabled = false;
      this.log.removeAttribute("aria-busy");
      this.events.turnEnded();
    }
  }

  /** Put an unanswered message back in the box, ahead of anything typed since. */
  giveBack(text) {
    const typed = this.input.value;
    this.input.value = typed ? `${text}\n${typed}` : text;
    sessionStorage.setItem(DRAFT, this.input.value);
    this.input.focus();
  }
}

function userMessage(text) {
  return h("li", { class: "message user" }, h("span", { class: "visually-hidden" }, "You: "), h("div", { class: "bubble" }, text));
}

/** The assistant's answer: the tools it called, then its words (streamed in or read back). */
class Reply {
  constructor(state) {
    this.text = document.createTextNode("");
    this.pending = "";
    this.tools = h("ul", { class: "tools", "aria-label": "What the assistant did", hidden: true });
    this.bubble = h("div", { class: state === "writing" ? "bubble writing" : "bubble" }, this.text);
    this.element = h(
      "li",
      { class: "message assistant" },
      h("span", { class: "visually-hidden" }, "todochat: "),
      this.tools,
      this.bubble,
    );
  }

  addText(text) {
    this.setText(this.text.data + text);
  }

  setText(text) {
    this.text.data = text;
  }

  addTool(call) {
    this.tools.hidden = false;
    this.tools.append(toolCall(call));
  }

  finish() {
    this.bubble.classList.remove("writing");
  }

  fail() {
    this.element.classList.add("failed");
  }
}

/** A compact line for one tool call; its arguments and result unfold on demand. */
function toolCall({ tool, arguments: args, result }) {
  const failed = result !== null && typeof result === "object" && "error" in result;
  return h(
    "li",
    { class: failed ? "tool error" : "tool" },
    h(
      "details",
      {},
      h("summary", { "data-icon": "tool" }, h("span", { class: "name" }, tool), " ", summarize(result)),
      h("pre", {}, JSON.stringify({ arguments: args, result }, null, 2)),
    ),
  );
}

function summarize(result) {
  if (result === null || typeof result !== "object") return "";
  if (Array.isArray(result)) return `${result.length} ${result.length === 1 ? "task" : "tasks"}`;
  if ("error" in result) return String(result.error);
  const words = [result.status, result.title && `“${result.title}”`].filter(Boolean);
  if (result.task_id !== undefined) words.push(`#${result.task_id}`);
  return words.join(" ");
}
