// Parity dev console: plain JS, no build step. Views by URL hash:
//   #/                  rooms (from the caller's previews)
//   #/rooms/<room>      the room's sidebar as the chat inbox shows it (refreshes every second)
//   #/deals/<id>, #/tickets/<id>   a record with its creator label and timeline notes
//   #/<page>/…          a page another script adds to ``pages`` (conversations.js: #/conversations,
//                       feedback.js: #/feedback, approvals.js: #/approvals, #/activity)
// A room's page also shows what the scripts in ``roomPanels`` put beside its sidebar
// (conversations.js: the conversation itself). Everything but the room list goes through the
// public API with a company token, as the inbox and CRM front ends would. Data is always inserted
// as text, never as HTML.
"use strict";

const API = "/api/v3.1";
const ROOM_POLL_MS = 1000;
const RECORD_POLL_MS = 1000;
const ROOMS_POLL_MS = 2000;

const state = { apiKey: "", token: null, view: 0, timer: null };
// Extension points for the console's other scripts (loaded after this one):
const pages = {}; // "#/<name>/…" → view(the rest of the path)
const roomPanels = []; // each (room, view, element) fills part of a room's page beside its sidebar

// ---- tiny DOM helper -------------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function labelBadge(label) {
  if (!label) return h("span", { class: "label label-person" }, "Person");
  return h("span", { class: `label label-${label.toLowerCase()}`, title: `Created by ${label === "AI" ? "an AI agent" : "a bot"}` }, label);
}

function fields(pairs) {
  return h("dl", { class: "fields" }, pairs
    .filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

// ---- auth and API ----------------------------------------------------------------------------
function setStatus(text, isError) {
  const status = document.getElementById("auth-status");
  status.textContent = text;
  status.className = isError ? "error" : "muted";
}

async function signIn(apiKey) {
  state.apiKey = apiKey;
  state.token = null;
  const response = await fetch(`${API}/teams/company_token`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Crm-Api-Key": apiKey },
    body: JSON.stringify({ sso_id: "parity-dev-console" }),
  });
  if (!response.ok) {
    setStatus(`Sign-in refused (${response.status}): check the API key.`, true);
    throw new Error(`sign-in refused: ${response.status}`);
  }
  const body = await response.json();
  state.token = body.access_token;
  sessionStorage.setItem("parity-console-api-key", apiKey);
  setStatus(`Signed in to company ${body.company_id}.`, false);
  return body;
}

// One call with the company token; a 401 signs in again once and repeats the call.
async function api(path, options = {}, retried = false) {
  if (!state.token) await signIn(state.apiKey);
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && !retried) {
    await signIn(state.apiKey);
    return api(path, options, true);
  }
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error((body && body.error && body.error.message) || `HTTP ${response.status}`);
    error.status = response.status;
    error.fields = body && body.error && body.error.details && body.error.details.length ? body.error.details.map((d) => d.field) : null;
    throw error;
  }
  return body;
}

// ---- views -----------------------------------------------------------------------------------
function startView(title, ...content) {
  state.view += 1;
  clearTimeout(state.timer);
  document.title = `${title} · Parity dev console`;
  const main = document.getElementById("view");
  main.replaceChildren(...content);
  return state.view;
}

// Run `refresh` now and every `ms` while this view is shown.
function poll(view, ms, refresh) {
  const tick = async () => {
    if (view !== state.view) return;
    try {
      await refresh();
    } catch (error) {
      console.warn(error);
    }
    if (view === state.view) state.timer = setTimeout(tick, ms);
  };
  tick();
}

function roomsView() {
  const list = h("ul", { class: "rooms", "aria-label": "Rooms" });
  const input = h("input", { id: "room-id", name: "room_id", required: true, placeholder: "room-123" });
  const view = startView("Rooms",
    h("h2", {}, "Rooms"),
    h("p", { class: "muted" }, "Chat rooms with a bot/AI record preview."),
    h("form", { class: "open-room", onsubmit: (event) => { event.preventDefault(); location.hash = `#/rooms/${encodeURIComponent(input.value.trim())}`; } },
      h("label", { for: "room-id" }, "Open a room by id "), input, " ", h("button", { type: "submit" }, "Open")),
    list);
  poll(view, ROOMS_POLL_MS, async () => {
    const body = await api("/_local/console/rooms");
    if (view !== state.view) return;
    const items = body.data.map((room) => h("li", {},
      h("a", { href: `#/rooms/${encodeURIComponent(room.room_id)}` }, room.room_id),
      room.in_previews ? h("span", { class: "tag" }, "bot/AI records") : null));
    list.replaceChildren(...(items.length ? items : [h("li", { class: "muted" }, "No rooms yet.")]));
  });
}

function slotCard(kind, record) {
  const collection = kind === "deal" ? "deals" : "tickets";
  const pairs = kind === "deal"
    ? [["Stage", record.stage], ["Pipeline", record.pipeline], ["Status", record.status], ["Amount", record.amount]]
    : [["Ticket", record.unique_ticket_id], ["Priority", record.priority], ["Status", record.status]];
  return h("article", { class: "card", "data-record-id": record.id, "aria-label": `${kind === "deal" ? "Deal" : "Ticket"} ${record.name}` },
    h("h4", {}, h("a", { href: `#/${collection}/${encodeURIComponent(record.id)}` }, record.name), labelBadge(record.creator_label)),
    fields(pairs),
    record.url ? h("a", { href: record.url, target: "_blank", rel: "noopener" }, "Open in CRM") : null);
}

function createForm(kind, room, done, cancel) {
  const title = kind === "deal" ? "Deal" : "Ticket";
  const name = h("input", { id: `new-${kind}-name`, required: true, maxlength: 255 });
  const creator = h("select", { id: `new-${kind}-creator` },
    h("option", { value: "bot" }, "Bot"), h("option", { value: "agentic_ai" }, "AI agent"), h("option", { value: "" }, "Person (no preview)"));
  const message = h("p", { role: "status", class: "muted" });
  return h("form", { class: "create", "aria-label": `Create ${title}`, onsubmit: async (event) => {
    event.preventDefault();
    const body = { name: name.value.trim(), channel_integration_room_id: room };
    if (creator.value) body.creator_flag = creator.value;
    try {
      await api(`${API}/${kind}s`, { method: "POST", body: JSON.stringify(body) });
      done();
    } catch (error) {
      message.textContent = `Not created: ${error.message}`;
    }
  } },
  h("label", { for: name.id }, `${title} name`), name,
  h("label", { for: creator.id }, "Created by"), creator,
  h("button", { type: "submit" }, `Create ${title}`),
  h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel"), message);
}

function roomView(room) {
  const slots = {};
  const sidebar = h("aside", { class: "sidebar", "aria-label": "CRM sidebar", "aria-live": "polite" });
  for (const kind of ["deal", "ticket"]) {
    const body = h("div", { class: "slot-body" });
    slots[kind] = { body, shown: undefined, editing: false };
    sidebar.append(h("section", { class: "slot", "aria-labelledby": `slot-${kind}` },
      h("h3", { id: `slot-${kind}` }, kind === "deal" ? "Deal" : "Ticket"), body));
  }
  const refreshed = h("p", { class: "muted", id: "refreshed" });
  const main = h("div", { class: "room-main" },
    h("section", { "aria-labelledby": "about-room" },
      h("h3", { id: "about-room", class: "visually-hidden" }, "About this view"),
      h("p", {}, "The chat inbox's CRM sidebar for this room. A slot shows the newest live deal or ticket a bot or an AI agent created here, or the “Create …” call to action when there is none."),
      refreshed));
  const view = startView(`Room ${room}`,
    h("p", {}, h("a", { href: "#/" }, "← Rooms")),
    h("h2", {}, `Room ${room}`),
    h("div", { class: "room" }, main, sidebar));
  for (const panel of roomPanels) panel(room, view, main);

  const render = (kind, record) => {
    const slot = slots[kind];
    const key = record ? `${record.id}@${record.version}` : null;
    if (slot.shown === key) return; // unchanged (and a half-filled form stays as it is)
    slot.shown = key;
    slot.editing = false;
    if (record) {
      slot.body.replaceChildren(slotCard(kind, record));
      return;
    }
    const title = kind === "deal" ? "Create Deal" : "Create Ticket";
    const cta = h("button", { type: "button", class: "cta", onclick: () => {
      slot.editing = true;
      const reset = () => { slot.editing = false; slot.shown = undefined; refresh(); };
      slot.body.replaceChildren(createForm(kind, room, reset, reset));
      slot.body.querySelector("input").focus();
    } }, title);
    slot.body.replaceChildren(cta);
  };
  const refresh = async () => {
    const preview = await api(`${API}/rooms/${encodeURIComponent(room)}/preview`);
    if (view !== state.view) return;
    render("deal", preview.deal);
    render("ticket", preview.ticket);
    refreshed.textContent = `Refreshed at ${new Date().toLocaleTimeString()}.`;
  };
  poll(view, ROOM_POLL_MS, refresh);
}

function noteItem(note) {
  const excerpt = note.preview
    ? h("ol", { class: "excerpt", "aria-label": "Chat excerpt (emails and phone numbers masked)" }, note.preview.map((message) =>
      h("li", {}, h("span", { class: "who" }, message.sender_name || message.sender_type || "?"), " ",
        h("time", { class: "muted", datetime: message.created_at }, when(message.created_at)), h("p", {}, message.text))))
    : h("p", { class: "status-unavailable" }, "Chat preview unavailable: the chat history could not be read when the note was written.");
  // The deeplink points at the chat inbox; here it opens the room's view in this console.
  const room = note.room_id;
  return h("li", { class: "note" },
    h("article", { "aria-label": "Chat history note" },
      h("h4", {}, "Chat history", labelBadge(note.creator_label), h("span", { class: "muted" }, when(note.created_at))),
      excerpt,
      h("p", {}, h("a", { href: `#/rooms/${encodeURIComponent(room)}`, title: note.deeplink || "", "data-deeplink": note.deeplink || "" }, `Open chat room ${room}`),
        note.deeplink ? h("span", { class: "muted" }, ` (deeplink ${note.deeplink})`) : null)));
}

function recordView(collection, id) {
  const kind = collection === "deals" ? "deal" : "ticket";
  const heading = h("h2", {}, kind === "deal" ? "Deal" : "Ticket");
  const summary = h("div", {});
  const timeline = h("ol", { class: "timeline", "aria-labelledby": "timeline-h" });
  const empty = h("p", { class: "muted", role: "status" }, "No timeline notes yet (a bot/AI record in a room gets one within seconds).");
  const view = startView(`${kind} ${id}`,
    h("p", {}, h("a", { href: "#/" }, "← Rooms")),
    heading, summary,
    h("section", { "aria-labelledby": "timeline-h" }, h("h3", { id: "timeline-h" }, "Timeline"), empty, timeline));
  let shownVersion = null;
  let shownNotes = null;
  poll(view, RECORD_POLL_MS, async () => {
    let record;
    try {
      record = (await api(`${API}/${collection}/${encodeURIComponent(id)}`)).data;
    } catch (error) {
      if (error.status === 404 && view === state.view) {
        heading.textContent = `${kind === "deal" ? "Deal" : "Ticket"} not found`;
        summary.replaceChildren(h("p", {}, "It does not exist in this company, or it was deleted."));
        shownVersion = null;
        return;
      }
      throw error;
    }
    if (view !== state.view) return;
    if (shownVersion !== record.version) {
      shownVersion = record.version;
      heading.textContent = `${kind === "deal" ? "Deal" : "Ticket"}: ${record.name}`;
      const room = record.channel_integration_room_id;
      summary.replaceChildren(
        h("p", { class: "creator" }, "Created by ", labelBadge(record.creator_label)),
        fields([
          ["Room", room ? h("a", { href: `#/rooms/${encodeURIComponent(room)}` }, room) : null],
          ["Contacts", (record.contact_ids || []).join(", ")],
          ...(kind === "deal"
            ? [["Pipeline", record.pipeline], ["Stage", record.stage], ["Amount", record.amount]]
            : [["Ticket", record.unique_ticket_id], ["Priority", record.priority], ["Description", record.description]]),
          ["Status", record.status], ["Source", record.source], ["Version", record.version],
          ["Created", when(record.created_at)], ["Updated", when(record.updated_at)],
          ["CRM", record.url ? h("a", { href: record.url, target: "_blank", rel: "noopener" }, record.url) : null],
        ]));
    }
    const notes = (await api(`${API}/${collection}/${encodeURIComponent(id)}/timeline`)).data;
    if (view !== state.view) return;
    const key = notes.map((n) => n.id).join(",");
    if (key !== shownNotes) {
      shownNotes = key;
      empty.hidden = notes.length > 0;
      timeline.replaceChildren(...notes.map(noteItem));
    }
  });
}

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (Object.hasOwn(pages, parts[0])) return pages[parts[0]](parts.slice(1));
  if (parts[0] === "rooms" && parts[1]) return roomView(parts[1]);
  if ((parts[0] === "deals" || parts[0] === "tickets") && parts[1]) return recordView(parts[0], parts[1]);
  return roomsView();
}

async function start() {
  const input = document.getElementById("api-key");
  let config = { api_key: null };
  try {
    config = await (await fetch("/_local/console/config")).json();
  } catch (error) {
    console.warn(error);
  }
  // Prefill the key (this tab's, else the local stack's) unless someone is already typing one: the
  // config arrives after the page is usable, and must not land in the middle of their input.
  if (!input.value && document.activeElement !== input) {
    input.value = sessionStorage.getItem("parity-console-api-key") || config.api_key || "";
  }
  document.getElementById("signin").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await signIn(input.value.trim());
      route();
    } catch (error) {
      console.warn(error);
    }
  });
  window.addEventListener("hashchange", () => { route(); document.getElementById("view").focus(); });
  if (input.value) {
    try {
      await signIn(input.value);
    } catch (error) {
      console.warn(error);
      return;
    }
  } else {
    setStatus("Enter the company API key to sign in.", false);
    return;
  }
  route();
}

document.addEventListener("DOMContentLoaded", start);
