// Parity dev console: the feedback loop (loaded after console.js, whose helpers it uses: h, api,
// startView, poll, when, state, pages). Adds:
//   #/feedback          the summary as charts (plain SVG: by channel, category, priority, status;
//                       the top reporters), the feedback tickets newest first with their
//                       reporters and counts, each with a "Resolve" form (PATCH the ticket:
//                       resolving proposes the changelog for approval) and its notifications
// Data is always inserted as text, never as HTML; the charts are SVG elements built one by one.
"use strict";

const FEEDBACK_POLL_MS = 2000;
const SVG_NS = "http://www.w3.org/2000/svg";
const FEEDBACK_PERIODS = ["24h", "7d", "30d"];

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  for (const child of children) node.append(typeof child === "string" ? document.createTextNode(child) : child);
  return node;
}

// A horizontal bar chart of {label: count}: one row per label, bars scaled to the largest count.
function barChart(title, counts) {
  const entries = Object.entries(counts);
  const max = Math.max(1, ...entries.map(([, n]) => n));
  const row = 22, labelWidth = 120, barWidth = 220, width = labelWidth + barWidth + 40;
  const chart = svg("svg", { width, height: entries.length * row + 4, role: "img", "aria-label": `${title}: ${entries.map(([k, n]) => `${k} ${n}`).join(", ")}`, class: "chart" });
  entries.forEach(([label, n], i) => {
    const y = i * row + 2;
    chart.append(
      svg("text", { x: labelWidth - 6, y: y + 14, "text-anchor": "end", class: "chart-label" }, label),
      svg("rect", { x: labelWidth, y: y + 3, width: Math.round((barWidth * n) / max), height: row - 8, class: `chart-bar${n ? "" : " chart-zero"}` }),
      svg("text", { x: labelWidth + Math.round((barWidth * n) / max) + 6, y: y + 14, class: "chart-count" }, String(n)));
  });
  return h("figure", { class: "chart-box" }, h("figcaption", {}, title), chart);
}

function reportersLabel(ticket) {
  const channels = [...new Set((ticket.reporters || []).map((r) => r.channel))];
  return `${ticket.reporter_contact_ids.length} (${channels.join(", ")})`;
}

function notificationsList(notifications) {
  if (!notifications.length) return h("p", { class: "muted" }, "No notifications yet.");
  return h("ul", { class: "notifications" }, ...notifications.map((n) => h("li", {},
    h("span", { class: `tag notification-${n.status}` }, n.status), ` ${n.channel} → ${n.contact_id}`,
    n.attempts ? ` · ${n.attempts} attempt(s)` : "", n.last_error ? ` · ${n.last_error}` : "", n.sent_at ? ` · sent ${when(n.sent_at)}` : "")));
}

function resolveForm(ticket, onDone) {
  const note = h("input", { name: "resolution_note", placeholder: "What was done (optional)", "aria-label": `Resolution note for ${ticket.summary}` });
  const status = h("span", { role: "status" });
  return h("form", { class: "resolve", onsubmit: async (event) => {
    event.preventDefault();
    status.textContent = "…";
    try {
      const body = { status: "resolved", ...(note.value.trim() ? { resolution_note: note.value.trim() } : {}) };
      await api(`${API}/tickets/${encodeURIComponent(ticket.id)}`, { method: "PATCH", body: JSON.stringify(body) });
      status.textContent = "Resolved: the changelog waits for approval.";
      onDone();
    } catch (error) {
      status.textContent = String(error.message || error);
    }
  } }, note, " ", h("button", { type: "submit" }, "Resolve"), " ", status);
}

function feedbackView() {
  const period = h("select", { id: "feedback-period" }, ...FEEDBACK_PERIODS.map((p) => h("option", { value: p, selected: p === "7d" }, p)));
  const charts = h("div", { class: "charts", id: "feedback-charts" });
  const total = h("p", { id: "feedback-total", role: "status" });
  const rows = h("tbody", {});
  const view = startView("Feedback",
    h("h2", {}, "Feedback"),
    h("p", { class: "muted" }, "Customers' reports from feedback channels and the product, one ticket however often and wherever a problem was reported. Resolving one proposes a changelog; once a person approves it, each reporter is told on their own channel."),
    h("p", {}, h("label", { for: period.id }, "Period "), period),
    total, charts,
    h("table", { class: "feedback", "aria-label": "Feedback tickets" },
      h("thead", {}, h("tr", {}, ["Summary", "Type", "Priority", "Status", "Reports", "Reporters", "Reported", ""].map((t) => h("th", { scope: "col" }, t)))),
      rows));
  let shown = null;
  const refresh = async () => {
    const [summary, list] = await Promise.all([
      api(`${API}/feedback/summary?period=${encodeURIComponent(period.value)}`),
      api(`${API}/feedback?limit=50`),
    ]);
    if (view !== state.view) return;
    const figures = summary.data;
    total.textContent = `${figures.total} ticket(s) in the last ${figures.period}`;
    const top = Object.fromEntries(figures.top_reporters.map((r) => [r.contact_id, r.count]));
    charts.replaceChildren(
      barChart("By channel", figures.by_channel), barChart("By type", figures.by_category),
      barChart("By priority", figures.by_priority), barChart("By status", figures.by_status),
      barChart("Top reporters", Object.keys(top).length ? top : { none: 0 }));
    // A resolved ticket's notifications change on their own (approved, sent, retried): read on every poll.
    const notifications = await Promise.all(list.data.map((t) => t.status === "resolved"
      ? api(`${API}/notifications?ticket_id=${encodeURIComponent(t.id)}`).then((b) => b.data) : Promise.resolve(null)));
    if (view !== state.view) return;
    const key = JSON.stringify([list.data.map((t) => [t.id, t.status, t.report_count, t.reporter_contact_ids, t.category, t.priority]),
      notifications.map((ns) => ns && ns.map((n) => [n.id, n.status, n.attempts]))]);
    if (key === shown) return;
    shown = key;
    rows.replaceChildren(...list.data.flatMap((ticket, i) => {
      const row = h("tr", { "data-ticket": ticket.id },
        h("td", {}, h("a", { href: `#/tickets/${encodeURIComponent(ticket.id)}` }, ticket.summary || ticket.name)),
        h("td", {}, ticket.category || `${ticket.suggested_type} (suggested)`),
        h("td", {}, ticket.priority || `${ticket.suggested_priority} (suggested)`),
        h("td", {}, ticket.status),
        h("td", {}, String(ticket.report_count)),
        h("td", {}, reportersLabel(ticket)),
        h("td", {}, when(ticket.created_at)),
        h("td", {}, ticket.status === "resolved" ? "" : resolveForm(ticket, () => { shown = null; })));
      return notifications[i] === null ? [row] : [row, h("tr", { class: "notifications-row" }, h("td", { colspan: 8 }, notificationsList(notifications[i])))];
    }));
    if (!list.data.length) rows.replaceChildren(h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No feedback yet.")));
  };
  period.addEventListener("change", () => { shown = null; refresh(); });
  poll(view, FEEDBACK_POLL_MS, refresh);
}

pages.feedback = feedbackView;
