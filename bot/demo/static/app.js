// The demo's chat page: state from /api/state, changes over server-sent events (/events).
"use strict";
const $ = (selector) => document.querySelector(selector);
const TITLES = {
  private: ["Art", "bot"],
  group: ["Artists", "group: Ann, Boris, bot"],
  inline: ["Boris", "type @BOT and a prompt: inline mode"],
};
const ACTIONS = { upload_photo: "sending a photo", upload_document: "sending a file", typing: "typing" };
// `stick`: the chat is read at its end, so new messages and pictures keep it there.
const page = { view: "private", user: 7001, state: null, queryId: null, refresh: null, stick: true };

async function post(path, body) {
  body.language = $("#language").value;
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) toast(await response.text(), false);
  return response.ok ? response.json() : null;
}

async function load() {
  page.state = await (await fetch("/api/state")).json();
  render();
}

function scheduleLoad() {
  clearTimeout(page.refresh);
  page.refresh = setTimeout(load, 30);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render() {
  const state = page.state;
  if (!state) return;
  document.querySelectorAll(".chat").forEach((b) => b.classList.toggle("active", b.dataset.view === page.view));
  const [title, subtitle] = TITLES[page.view];
  $("#title").textContent = title;
  $("#subtitle").textContent = subtitle.replace("BOT", state.bot);
  $("#as").hidden = page.view !== "group";
  $("#voice").hidden = page.view !== "private";
  $("#text").placeholder = page.view === "inline" ? `@${state.bot} a red fox` : "Message";
  const box = $("#messages");
  const top = box.scrollTop;
  box.replaceChildren();
  let album = null;
  for (const message of state.chats[page.view]) {
    if (message.for && message.for !== page.user) continue; // someone else's ephemeral message
    if (message.album && album && album.dataset.album === message.album) {
      album.querySelector(".album").append(photo(message));
      continue;
    }
    const bubble = bubbleOf(message);
    album = message.album ? bubble : null;
    box.append(bubble);
  }
  if (lastKey() !== page.actionSince) $("#action").textContent = "";
  box.scrollTop = page.stick ? box.scrollHeight : top;
  renderResults();
}

function lastKey() {
  const messages = page.state ? page.state.chats[page.view] : [];
  return messages.length ? messages[messages.length - 1].key : null;
}

// One <img> per picture, kept across redraws: the chat does not jump while it reloads.
const images = new Map();

function photo(message) {
  if (images.has(message.photo)) return images.get(message.photo);
  const img = el("img");
  images.set(message.photo, img);
  img.src = message.photo;
  img.alt = "picture";
  // Pictures load after the chat is drawn: keep a chat read at its end there.
  img.addEventListener("load", () => { if (page.stick) $("#messages").scrollTop = 1e9; }, { once: true });
  return img;
}

function bubbleOf(message) {
  const mine = !message.bot && message.user === page.user;
  const kinds = { bot: message.bot, mine, photo: message.photo, draft: message.draft, ephemeral: message.ephemeral };
  const bubble = el("div", ["msg", ...Object.keys(kinds).filter((k) => kinds[k])].join(" "));
  bubble.dataset.key = message.key;
  if (!mine) {
    const who = el("div", "who", message.via ? "Ann" : message.from);
    if (message.via) who.append(el("span", "via", ` via @${message.via}`));
    bubble.append(who);
  }
  if (message.reply_to) bubble.append(el("div", "reply", message.reply_to));
  if (message.album) {
    bubble.dataset.album = message.album;
    const grid = el("div", "album");
    grid.append(photo(message));
    bubble.append(grid);
  } else if (message.photo) {
    bubble.append(photo(message));
  }
  if (message.document) bubble.append(el("div", "document", "📄 original picture (file)"));
  if (message.voice) bubble.append(el("div", "voice", `🎤 voice message, ${message.voice} s`));
  if (message.html) {
    const text = el("div", "text");
    text.innerHTML = message.html; // sanitised by the server (bot/demo/markup.py)
    bubble.append(text);
  }
  if (message.buttons.length) bubble.append(buttonsOf(message));
  if (message.stop) {
    const stop = el("button", "stop", "■ Stop");
    stop.type = "button";
    stop.addEventListener("click", () => post("/api/stop", {}));
    bubble.append(stop);
  }
  if (message.draft) bubble.append(el("div", "meta", "writing… (a draft)"));
  if (message.ephemeral) bubble.append(el("div", "meta", "only you can see this"));
  if (message.edited) bubble.append(el("div", "meta", "edited"));
  return bubble;
}

function buttonsOf(message) {
  const rows = el("div", "buttons");
  for (const row of message.buttons) {
    const line = el("div");
    for (const button of row) {
      const b = el("button", button.style || "", button.text);
      b.type = "button";
      b.disabled = button.disabled !== undefined;
      b.addEventListener("click", () => press(message, button));
      line.append(b);
    }
    rows.append(line);
  }
  return rows;
}

function press(message, button) {
  if (button.url) return window.open(button.url, "_blank", "noopener");
  if (button.switch_inline_query_current_chat !== undefined) {
    $("#text").value = `@${page.state.bot} ${button.switch_inline_query_current_chat}`;
    return $("#text").focus();
  }
  const body = { chat: page.view, user: page.user, data: button.callback_data };
  if (page.view === "inline") body.inline_message_id = message.key;
  else if (message.ephemeral) body.ephemeral_id = message.key;
  else body.message_id = message.key;
  post("/api/press", body);
}

function toast(text, alert) {
  const box = $("#toast");
  box.textContent = text;
  box.classList.toggle("alert", alert);
  box.hidden = false;
  clearTimeout(box.timer);
  box.timer = setTimeout(() => { box.hidden = true; }, alert ? 5000 : 2500);
}

// --- the protocol panel -------------------------------------------------------------------
function addLog(entry) {
  const item = el("li", entry.service + (entry.status >= 400 ? " failed" : ""));
  item.dataset.service = entry.service;
  const details = el("details");
  const summary = el("summary");
  const time = new Date(entry.at * 1000).toLocaleTimeString();
  summary.append(el("b", "", entry.what), el("span", "status", ` → ${entry.status} · ${time} · ${entry.service}`));
  details.append(summary, el("pre", "", "request: " + JSON.stringify(entry.request, null, 1)),
    el("pre", "", "answer: " + JSON.stringify(entry.answer, null, 1)));
  item.append(details);
  item.hidden = !shown(entry.service);
  $("#log").append(item);
  while ($("#log").children.length > 300) $("#log").firstChild.remove();
}

function shown(service) {
  return document.querySelector(`#filters input[value="${service}"]`).checked;
}

// --- the composer: messages, the commands menu, inline mode -------------------------------
function renderResults() {
  const list = $("#results");
  const answer = page.queryId && page.state.inline[page.queryId];
  if (page.view !== "inline" || !answer || !answer.results.length) { list.hidden = true; return; }
  list.replaceChildren();
  for (const result of answer.results) {
    const item = el("li");
    item.append(el("b", "", result.title), el("span", "", result.description));
    item.addEventListener("click", async () => {
      list.hidden = true;
      $("#text").value = "";
      const queryId = page.queryId;
      page.queryId = null;
      page.stick = true;
      await post("/api/choose", { query_id: queryId, result_id: result.id });
    });
    list.append(item);
  }
  list.hidden = false;
}

function typed() {
  if (page.view !== "inline") return;
  const prefix = `@${page.state.bot} `;
  const text = $("#text").value;
  clearTimeout(page.inlineTimer);
  if (!text.startsWith(prefix)) { page.queryId = null; renderResults(); return; }
  page.inlineTimer = setTimeout(async () => {
    const answer = await post("/api/inline", { user: page.user, query: text.slice(prefix.length) });
    if (answer) page.queryId = answer.query_id;
  }, 350);
}

async function send(event) {
  event.preventDefault();
  const input = $("#text");
  const text = input.value.trim();
  if (!text || page.view === "inline") return;
  input.value = "";
  $("#menu").hidden = true;
  page.stick = true;
  await post("/api/send", { chat: page.view, user: page.user, text });
}

// A voice message: the words typed stand for what is said (SpeechKit's emulator hears them).
async function voice() {
  const input = $("#text");
  const text = input.value.trim();
  if (!text || page.view !== "private") return toast("Type what you would say, then press 🎤", false);
  input.value = "";
  page.stick = true;
  await post("/api/voice", { text });
}

function toggleMenu() {
  const menu = $("#menu");
  const commands = page.state.commands[$("#language").value] || [];
  menu.replaceChildren();
  for (const command of commands) {
    const item = el("li");
    item.append(el("b", "", "/" + command.command), document.createTextNode(" " + command.description));
    item.addEventListener("click", () => {
      $("#text").value = `/${command.command} `;
      menu.hidden = true;
      $("#text").focus();
    });
    menu.append(item);
  }
  menu.hidden = !menu.hidden || !commands.length;
}

function listen() {
  const events = new EventSource("/events");
  events.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "changed" || event.type === "inline") scheduleLoad();
    else if (event.type === "log") addLog(event.entry);
    else if (event.type === "toast") toast(event.text, event.alert);
    else if (event.type === "action") {
      const chat = { private: 7001, group: -1001234567 }[page.view];
      if (event.chat_id === chat) {
        // Shown until the bot's next message (as Telegram does), or 5 s at most.
        $("#action").textContent = `Art is ${ACTIONS[event.action] || event.action}…`;
        page.actionSince = lastKey();
        clearTimeout(page.actionTimer);
        page.actionTimer = setTimeout(() => { $("#action").textContent = ""; }, 5000);
      }
    }
  };
  events.onopen = scheduleLoad; // after a reconnect, catch up
}

document.addEventListener("DOMContentLoaded", async () => {
  document.querySelectorAll(".chat").forEach((b) => b.addEventListener("click", () => {
    page.view = b.dataset.view;
    page.user = page.view === "group" ? Number(document.querySelector('input[name="as"]:checked').value) : 7001;
    page.stick = true;
    $("#text").value = "";
    render();
  }));
  document.querySelectorAll('input[name="as"]').forEach((r) => r.addEventListener("change", () => {
    page.user = Number(r.value);
    render();
  }));
  document.querySelectorAll("#filters input").forEach((box) => box.addEventListener("change", () => {
    document.querySelectorAll(`#log li[data-service="${box.value}"]`).forEach((li) => { li.hidden = !box.checked; });
  }));
  // Only the reader's own scrolling decides whether the chat follows new messages.
  const follow = () => setTimeout(() => {
    const box = $("#messages");
    page.stick = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  }, 100);
  ["wheel", "touchmove", "keyup", "mouseup"].forEach((name) => $("#messages").addEventListener(name, follow));
  $("#composer").addEventListener("submit", send);
  $("#text").addEventListener("input", typed);
  $("#menu-button").addEventListener("click", toggleMenu);
  $("#voice").addEventListener("click", voice);
  await load();
  page.state.log.forEach(addLog);
  listen();
});
