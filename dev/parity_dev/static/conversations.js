// Parity dev console: the conversations (loaded after console.js, whose helpers it uses: h, api,
// startView, poll, when, state). Adds:
//   #/conversations     the company's conversations, newest activity first (state, channel, contact,
//                       last message), refreshed every 2 s
//   on a room's page    the conversation itself beside the CRM sidebar, refreshed every second,
//                       with a reply box (POST /api/v3.1/conversations/{room}/messages, as an agent)
//                       and a "customer writes" box (POST /_local/simulate: the provider's signed
//                       webhook, as the customer's provider would deliver it)
// Data is always inserted as text, never as HTML.
"use strict";

const CONVERSATIONS_POLL_MS = 2000;
// A reply does not move a conversation's last_message_at (the customer's activity does), so every
// last message is read again this often, besides whenever last_message_at moves.
const LAST_MESSAGES_EVERY_MS = 10000;
const CONVERSATION_POLL_MS = 1000;
const MESSAGE_PAGES = 20; // at most 20 pages of 100 messages on a room's page
const CHANNEL_NAMES = { whatsapp: "WhatsApp", slack: "Slack", intercom: "Intercom" };

function channelBadge(channel) {
  const type = (channel && channel.type) || "?";
  return h("span", { class: `channel channel-${type}`, title: (channel && channel.name) || "" }, CHANNEL_NAMES[type] || type);
}

function stateBadge(conversation) {
  const until = conversation.state === "snoozed" && conversation.snoozed_until ? ` until ${when(conversation.snoozed_until)}` : "";
  return h("span", { class: `state state-${conversation.state}` }, conversation.state + until);
}

function contactLabel(contact) {
  if (!contact) return "?";
  return [contact.name, contact.phone, contact.email].filter(Boolean).join(" · ") || contact.id;
}

// ---- the list ----------------------------------------------------------------------------------
function conversationsView() {
  const rows = h("tbody", {});
  const stateFilter = h("select", { id: "conversation-state" },
    h("option", { value: "" }, "any state"), ...["open", "pending", "snoozed", "resolved"].map((s) => h("option", { value: s }, s)));
  const empty = h("p", { class: "muted", role: "status" });
  const view = startView("Conversations",
    h("h2", {}, "Conversations"),
    h("p", { class: "muted" }, "Customers' messages from WhatsApp, Slack and Intercom, newest activity first. On the local stack, ",
      h("code", {}, "parity simulate"), " or a room's “customer writes” box posts one, signed as the provider signs it."),
    h("p", {}, h("label", { for: stateFilter.id }, "State "), stateFilter),
    h("table", { class: "conversations", "aria-label": "Conversations" },
      h("thead", {}, h("tr", {}, ["State", "Channel", "Contact", "Last message", "Last activity"].map((t) => h("th", { scope: "col" }, t)))),
      rows),
    empty);
  const lastTexts = new Map(); // room → {at, text, read}: its last message, read again when it may have changed
  let shown = null;
  const refresh = async () => {
    const query = stateFilter.value ? `?limit=100&state=${encodeURIComponent(stateFilter.value)}` : "?limit=100";
    const conversations = (await api(`${API}/conversations${query}`)).data;
    const now = Date.now();
    await Promise.all(conversations.map(async (conversation) => {
      const known = lastTexts.get(conversation.id);
      if (known && known.at === conversation.last_message_at && now - known.read < LAST_MESSAGES_EVERY_MS) return;
      const page = (await api(`/api/open/v1/messages/rooms/${encodeURIComponent(conversation.id)}?offset=1&limit=1`)).data;
      const last = page[page.length - 1];
      lastTexts.set(conversation.id, { at: conversation.last_message_at, read: now, text: last ? `${last.sender_name || last.sender_type}: ${last.text}` : "" });
    }));
    if (view !== state.view) return;
    const key = JSON.stringify(conversations.map((c) => [c.id, c.state, c.snoozed_until, c.last_message_at, c.contact, lastTexts.get(c.id).text]));
    if (key === shown) return;
    shown = key;
    rows.replaceChildren(...conversations.map((conversation) => h("tr", { "data-room-id": conversation.id },
      h("td", {}, stateBadge(conversation)),
      h("td", {}, channelBadge(conversation.channel), " ", h("span", { class: "muted" }, conversation.channel.name || "")),
      h("td", {}, h("a", { href: `#/rooms/${encodeURIComponent(conversation.id)}` }, contactLabel(conversation.contact))),
      h("td", { class: "last-message" }, lastTexts.get(conversation.id).text),
      h("td", {}, h("time", { datetime: conversation.last_message_at || "" }, when(conversation.last_message_at))))));
    empty.textContent = conversations.length ? "" : "No conversations yet: a customer has not written.";
  };
  stateFilter.addEventListener("change", () => { shown = null; refresh().catch((error) => console.warn(error)); });
  poll(view, CONVERSATIONS_POLL_MS, refresh);
}

// ---- a room's conversation -----------------------------------------------------------------------
async function allMessages(room) {
  let path = `${API}/conversations/${encodeURIComponent(room)}/messages?limit=100`;
  const messages = [];
  for (let page = 0; page < MESSAGE_PAGES; page += 1) {
    const body = await api(path);
    messages.push(...body.data);
    if (!body.next_cursor) break;
    path = `${API}/conversations/${encodeURIComponent(room)}/messages?limit=100&cursor=${encodeURIComponent(body.next_cursor)}`;
  }
  return messages;
}

function messageItem(message) {
  const outbound = message.direction === "outbound";
  return h("li", { class: `message ${message.direction}`, "data-message-id": message.id },
    h("p", { class: "meta" },
      h("span", { class: "who" }, message.sender_name || message.sender_type), " ",
      h("span", { class: "muted" }, `(${message.sender_type})`), " ",
      h("time", { class: "muted", datetime: message.created_at }, when(message.created_at)),
      outbound ? h("span", { class: `status status-${message.status}`, title: "Delivery status" }, message.status) : null),
    h("p", { class: "text" }, message.text));
}

function sendForm({ id, label, button, placeholder, submit }) {
  const input = h("textarea", { id, rows: 2, required: true, maxlength: 4096, placeholder });
  const status = h("p", { class: "muted", role: "status" });
  const form = h("form", { class: "send", onsubmit: async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    status.textContent = "Sending…";
    try {
      await submit(text);
      input.value = "";
      status.textContent = "";
    } catch (error) {
      status.textContent = `Not sent: ${error.message}`;
    }
  } },
  h("label", { for: id }, label), input, h("button", { type: "submit" }, button), status);
  return form;
}

// Called by console.js's roomView with the room, its view and the element to fill.
function conversationPanel(room, view, container) {
  const header = h("div", { class: "conversation-header" });
  const list = h("ol", { class: "messages", "aria-label": "Messages", "aria-live": "polite" });
  const reply = sendForm({
    id: "reply-text", label: "Reply as an agent", button: "Send reply", placeholder: "Sent to the customer through their provider",
    submit: (text) => api(`${API}/conversations/${encodeURIComponent(room)}/messages`, {
      method: "POST", headers: { "Idempotency-Key": `console-${crypto.randomUUID()}` },
      body: JSON.stringify({ text, sender_type: "agent", sender_name: "Console agent" }),
    }),
  });
  const customer = sendForm({
    id: "customer-text", label: "Customer writes", button: "Send as customer", placeholder: "A signed provider webhook, as the customer's provider delivers it",
    submit: async (text) => {
      const response = await fetch("/_local/simulate", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ room_id: room, text }) });
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new Error((body && body.error && body.error.message) || `HTTP ${response.status}`);
      }
    },
  });
  const panel = h("section", { class: "conversation", "aria-labelledby": "conversation-h", hidden: true },
    h("h3", { id: "conversation-h" }, "Conversation"), header, list, reply, customer);
  container.prepend(panel);

  let shownHeader = null;
  let shownMessages = null;
  poll(view, CONVERSATION_POLL_MS, async () => {
    let conversation;
    try {
      conversation = (await api(`${API}/conversations/${encodeURIComponent(room)}`)).data;
    } catch (error) {
      if (error.status === 404) {
        panel.hidden = true; // a room Parity does not host: its chat lives elsewhere
        return;
      }
      throw error;
    }
    const messages = await allMessages(room);
    if (view !== state.view) return;
    panel.hidden = false;
    const headerKey = JSON.stringify([conversation.state, conversation.snoozed_until, conversation.contact, conversation.channel]);
    if (headerKey !== shownHeader) {
      shownHeader = headerKey;
      header.replaceChildren(
        h("p", {}, channelBadge(conversation.channel), " ", conversation.channel.name || "", " · ", stateBadge(conversation)),
        h("p", { class: "contact" }, "Contact: ", contactLabel(conversation.contact)));
    }
    const messagesKey = JSON.stringify(messages.map((m) => [m.id, m.status]));
    if (messagesKey !== shownMessages) {
      shownMessages = messagesKey;
      list.replaceChildren(...(messages.length ? messages.map(messageItem) : [h("li", { class: "muted" }, "No messages yet.")]));
      list.lastElementChild?.scrollIntoView?.({ block: "nearest" });
    }
  });
}

pages.conversations = () => conversationsView();
roomPanels.push(conversationPanel);
