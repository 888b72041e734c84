// The todochat web chat: signs in from the address, then ties the panes together.

import { Api } from "./api.js";
import { expired, forgetToken, keepToken, signedIn, takeTokenFromAddress } from "./auth.js";
import { Chat } from "./chat.js";
import { Conversations, titleOf } from "./conversations.js";
import { Notices } from "./notices.js";
import { Tasks } from "./tasks.js";

const $ = (id) => document.getElementById(id);

function showSignIn(reason) {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-reason").textContent = reason ?? "";
  $("signin-token").focus();
}

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("signin-token").value.trim();
  if (!token) return;
  keepToken(token);
  location.reload();
});

// A sign-in link opened in a tab already showing the page changes only the fragment.
window.addEventListener("hashchange", () => {
  if (new URLSearchParams(location.hash.slice(1)).has("token")) {
    takeTokenFromAddress();
    location.reload();
  }
});

function start() {
  takeTokenFromAddress();
  const session = signedIn();
  if (!session.token) return showSignIn(session.reason);

  let refused = false;
  const api = new Api(session.token, session.userId, (error) => {
    if (refused) return;
    refused = true;
    forgetToken();
    if (error.status === 403) showSignIn("This sign-in is not allowed to open this user's chat. Sign in again.");
    else if (expired(session.expires)) showSignIn("Your sign-in has expired. Sign in again with a new link.");
    else showSignIn("The server refused this sign-in. Sign in again with a new link.");
  });
  const notices = new Notices($("notices"));
  const tasks = new Tasks(api, notices, { list: $("task-list"), summary: $("task-summary"), more: $("more-tasks") });
  const nav = $("conversations");
  const toggle = $("show-conversations");
  const closeDrawer = () => {
    nav.classList.remove("open");
    toggle.setAttribute("aria-expanded", "false");
  };
  let chat;
  const conversations = new Conversations(api, notices, { list: $("conversation-list"), more: $("more-conversations"), newButton: $("new-conversation") }, {
    open: (conversation) => {
      closeDrawer();
      chat.open(conversation.id, titleOf(conversation));
    },
    renamed: (conversation) => chat.retitle(conversation.id, titleOf(conversation)),
    deleted: (id) => {
      if (id === chat.conversationId) chat.startNew();
    },
  });
  chat = new Chat(
    api,
    notices,
    {
      log: $("log"),
      messages: $("messages"),
      older: $("older"),
      welcome: $("welcome"),
      title: $("chat-title"),
      form: $("composer"),
      input: $("message"),
      sendButton: $("send"),
    },
    {
      opened: (id) => conversations.select(id),
      turnEnded: async () => {
        await Promise.all([tasks.refresh(), conversations.refresh()]);
        const open = conversations.get(chat.conversationId);
        if (open) chat.retitle(open.id, titleOf(open));
      },
    },
  );

  $("who").textContent = session.name ?? session.userId;
  $("sign-out").addEventListener("click", () => {
    forgetToken();
    sessionStorage.clear();
    showSignIn("You have signed out.");
  });
  $("new-conversation").addEventListener("click", () => {
    closeDrawer();
    chat.startNew();
  });
  toggle.addEventListener("click", () => {
    const open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
    if (open) $("new-conversation").focus();
  });
  nav.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && nav.classList.contains("open")) {
      closeDrawer();
      toggle.focus();
    }
  });

  $("signin").hidden = true;
  $("app").hidden = false;
  const remembered = Chat.remembered();
  if (remembered === null) chat.startNew();
  else chat.open(remembered, `Conversation ${remembered}`);
  tasks.refresh();
  conversations.refresh().then(() => {
    const open = conversations.get(chat.conversationId);
    if (open) chat.retitle(open.id, titleOf(open));
  });
}

start();
