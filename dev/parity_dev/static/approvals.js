// Parity dev console: trust in AI actions (contracts/approvals.md). Loaded after console.js and
// built on its helpers (h, api, startView, poll, when, labelBadge, state). Views by URL hash:
//   #/approvals          the approval inbox: pending first, before/after side by side, confidence,
//                        approve (with edits), reject (with a reason), and a batch of either
//   #/approvals/<id>     one approval (the Slack messages link here)
//   #/activity           the activity log with its filters, newest first, more on demand
// and a banner of the active anomalies on every page, each with an Acknowledge button.
// Everything goes through the public API with the signed-in company's token; text is inserted as text.
"use strict";

(() => {
  const API = "/api/v3.1";
  const INBOX_POLL_MS = 2000;
  const BANNER_POLL_MS = 3000;

  const percent = (value) => (value === null || value === undefined ? "none given" : `${Math.round(Number(value) * 1000) / 10} %`);
  const shown = (value) => (value === null || value === undefined || value === "" ? "—" : Array.isArray(value) ? value.join(", ") : String(value));
  const label = (flag) => ({ bot: "Bot", agentic_ai: "AI" })[flag] || null;

  function subject(approval) {
    const name = (approval.proposed && approval.proposed.name) || (approval.before && approval.before.name) || approval.record_id || "";
    const what = approval.kind === "create" ? "New" : approval.kind === "update" ? "Change to" : "Customer update for";
    return `${what} ${approval.record_type || "record"} “${name}”`;
  }

  // ---- one approval -------------------------------------------------------------------------
  // The proposal field by field: before (for an update) beside the proposed value, which an
  // approver may edit while it is pending. Returns the card and a function giving the edits.
  function proposalTable(approval, editable) {
    const inputs = {};
    const rows = Object.entries(approval.proposed || {}).map(([field, value]) => {
      let cell = shown(value);
      if (editable && !Array.isArray(value) && (value === null || typeof value !== "object")) {
        const input = h("input", { name: field, value: value === null ? "" : String(value), "aria-label": `Proposed ${field}`, "data-kind": typeof value });
        inputs[field] = { input, original: value };
        cell = input;
      }
      return h("tr", {}, h("th", { scope: "row" }, field),
        approval.before ? h("td", { class: "before" }, shown(approval.before[field])) : null,
        h("td", { class: "after" }, cell));
    });
    const table = h("table", { class: "proposal" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), approval.before ? h("th", { scope: "col" }, "Before") : null, h("th", { scope: "col" }, approval.before ? "After" : "Proposed"))),
      h("tbody", {}, rows));
    const edits = () => {
      const changes = {};
      for (const [field, { input, original }] of Object.entries(inputs)) {
        const text = input.value.trim();
        const before = original === null || original === undefined ? "" : String(original);
        if (text === before) continue;
        changes[field] = text === "" ? null : typeof original === "number" && text !== "" && !Number.isNaN(Number(text)) ? Number(text) : text;
      }
      return changes;
    };
    return { table, edits };
  }

  function approvalCard(approval, { onDecided, selectable, selected }) {
    const pending = approval.status === "pending";
    const { table, edits } = proposalTable(approval, pending);
    const message = h("p", { class: "muted", role: "status" });
    const reason = h("input", { name: "reason", placeholder: "Reason (optional)", "aria-label": "Reason", maxlength: 1000 });
    const decide = async (decision) => {
      const body = decision === "approve" ? { changes: edits() } : { reason: reason.value };
      try {
        await api(`${API}/approvals/${encodeURIComponent(approval.id)}/${decision}`, { method: "POST", body: JSON.stringify(body) });
        onDecided();
      } catch (error) {
        message.textContent = `Not ${decision === "approve" ? "approved" : "rejected"}: ${error.message}${error.fields ? ` (${error.fields.join(", ")})` : ""}`;
        message.className = "error";
      }
    };
    const by = approval.resolved_by ? ` by ${approval.resolved_by}` : "";
    const checkbox = selectable && pending
      ? h("input", { type: "checkbox", "aria-label": `Select ${subject(approval)}`, checked: selected.has(approval.id), onchange: (event) => {
        if (event.target.checked) selected.add(approval.id); else selected.delete(approval.id);
      } })
      : null;
    return h("article", { class: `approval approval-${approval.status}`, "data-approval-id": approval.id, "aria-label": `Approval ${subject(approval)}` },
      h("header", {}, checkbox,
        h("h4", {}, h("a", { href: `#/approvals/${encodeURIComponent(approval.id)}` }, subject(approval))),
        labelBadge(label(approval.creator_flag)),
        h("span", { class: `status status-${approval.status}` }, approval.status)),
      h("p", { class: "meta" },
        h("span", { class: "confidence", title: "How sure the automation was" }, `Confidence ${percent(approval.confidence)}`),
        approval.agent_id ? h("span", {}, ` · agent ${approval.agent_id}`) : null,
        h("span", { class: "muted" }, ` · held ${when(approval.created_at)}`),
        pending ? h("span", { class: "muted" }, ` · expires ${when(approval.expires_at)}`) : h("span", { class: "muted" }, ` · ${approval.status}${by} ${when(approval.resolved_at)}`)),
      table,
      approval.reason ? h("p", { class: "reason" }, `Reason: ${approval.reason}`) : null,
      approval.record && approval.kind === "changelog" ? h("p", { class: "sent-text" }, "Told the reporters: ", h("q", {}, approval.record.text)) : null,
      approval.record && approval.kind !== "changelog" ? h("p", {}, "Written as ", h("a", { href: `#/${approval.record.type}s/${encodeURIComponent(approval.record.id)}` }, `${approval.record.type} ${approval.record.name}`),
        approval.record.approved_by ? ` (approved by ${approval.record.approved_by})` : null) : null,
      pending ? h("div", { class: "decide" },
        h("button", { type: "button", onclick: () => decide("approve") }, "Approve"),
        reason,
        h("button", { type: "button", class: "secondary", onclick: () => decide("reject") }, "Reject")) : null,
      message);
  }

  // ---- the inbox ----------------------------------------------------------------------------
  function inboxView() {
    const selected = new Set();
    const pendingList = h("div", { class: "approvals", "aria-label": "Pending approvals" });
    const decidedList = h("div", { class: "approvals", "aria-label": "Decided approvals" });
    const batchReason = h("input", { name: "batch_reason", placeholder: "Reason for the rejected ones (optional)", "aria-label": "Batch reason" });
    const batchStatus = h("p", { class: "muted", role: "status" });
    let shownKey = null;
    const refresh = async () => {
      const [pending, recent] = await Promise.all([
        api(`${API}/approvals?status=pending&limit=100`),
        api(`${API}/approvals?limit=20`),
      ]);
      if (view !== state.view) return;
      const decided = recent.data.filter((a) => a.status !== "pending");
      const key = JSON.stringify([pending.data.map((a) => a.id), decided.map((a) => `${a.id}:${a.status}`)]);
      if (key === shownKey) return; // unchanged: half-typed edits stay as they are
      shownKey = key;
      for (const id of [...selected]) if (!pending.data.some((a) => a.id === id)) selected.delete(id);
      pendingList.replaceChildren(...(pending.data.length
        ? pending.data.map((a) => approvalCard(a, { onDecided: () => { shownKey = null; refresh(); }, selectable: true, selected }))
        : [h("p", { class: "muted" }, "Nothing is waiting for a decision.")]));
      decidedList.replaceChildren(...(decided.length ? decided.map((a) => approvalCard(a, { onDecided: refresh })) : [h("p", { class: "muted" }, "No decisions yet.")]));
    };
    const batch = async (decision) => {
      if (!selected.size) {
        batchStatus.textContent = "Select approvals first.";
        return;
      }
      const body = { [decision]: [...selected], reason: batchReason.value || null };
      try {
        const answer = await api(`${API}/approvals/batch`, { method: "POST", body: JSON.stringify(body) });
        const refused = answer.data.filter((r) => r.error);
        batchStatus.textContent = `${answer.data.length - refused.length} ${decision === "approve" ? "approved" : "rejected"}` +
          (refused.length ? `; ${refused.length} not: ${refused.map((r) => `${r.id} ${r.error.code}`).join(", ")}` : "");
        selected.clear();
        shownKey = null;
        refresh();
      } catch (error) {
        batchStatus.textContent = `Batch refused: ${error.message}`;
      }
    };
    const view = startView("Approvals",
      h("h2", {}, "Approvals"),
      h("p", { class: "muted" }, "Bot and AI actions the company's approval policy held for a person. Pending first; edit a proposed value before approving, or reject with a reason."),
      h("section", { "aria-labelledby": "pending-h" },
        h("h3", { id: "pending-h" }, "Pending"),
        h("div", { class: "batch", role: "group", "aria-label": "Batch" },
          h("button", { type: "button", onclick: () => batch("approve") }, "Approve selected"),
          batchReason,
          h("button", { type: "button", class: "secondary", onclick: () => batch("reject") }, "Reject selected"),
          batchStatus),
        pendingList),
      h("section", { "aria-labelledby": "decided-h" }, h("h3", { id: "decided-h" }, "Recently decided"), decidedList));
    poll(view, INBOX_POLL_MS, refresh);
  }

  function oneApprovalView(id) {
    const holder = h("div", {});
    const view = startView(`Approval ${id}`, h("p", {}, h("a", { href: "#/approvals" }, "← Approvals")), h("h2", {}, "Approval"), holder);
    let shownStatus = null;
    poll(view, INBOX_POLL_MS, async () => {
      let approval;
      try {
        approval = (await api(`${API}/approvals/${encodeURIComponent(id)}`)).data;
      } catch (error) {
        if (error.status === 404) holder.replaceChildren(h("p", {}, "No such approval in this company."));
        return;
      }
      if (view !== state.view || approval.status === shownStatus) return;
      shownStatus = approval.status;
      holder.replaceChildren(approvalCard(approval, { onDecided: () => { shownStatus = null; } }));
    });
  }

  // ---- the activity log -----------------------------------------------------------------------
  function activityView() {
    const select = (name, options) => h("select", { name, id: `f-${name}` }, h("option", { value: "" }, "any"), options.map((o) => h("option", { value: o }, o)));
    const filters = {
      creator_flag: select("creator_flag", ["bot", "agentic_ai"]),
      status: select("status", ["success", "failed", "pending", "rejected"]),
      action: select("action", ["create", "update", "delete", "held", "approved", "rejected", "expired"]),
      agent_id: h("input", { name: "agent_id", id: "f-agent_id", placeholder: "agent id" }),
    };
    const rows = h("tbody", {});
    const more = h("button", { type: "button", class: "secondary", hidden: true }, "More");
    const status = h("p", { class: "muted", role: "status" });
    let cursor = null;
    let asked = 0; // the latest load: an older answer arriving after it (other filters) is dropped
    const load = async (append) => {
      const mine = ++asked;
      const query = new URLSearchParams({ limit: "50" });
      for (const [name, input] of Object.entries(filters)) if (input.value.trim()) query.set(name, input.value.trim());
      if (append && cursor) query.set("cursor", cursor);
      try {
        const page = await api(`${API}/activity?${query}`);
        if (mine !== asked || view !== state.view) return;
        const lines = page.data.map((line) => h("tr", { class: `line line-${line.status}`, "data-line-id": line.id },
          h("td", {}, h("time", { datetime: line.at }, when(line.at))),
          h("td", {}, line.action), h("td", { class: `status-${line.status}` }, line.status),
          h("td", {}, line.record_type ? `${line.record_type} ${line.record_id || ""}` : "—"),
          h("td", {}, labelBadge(label(line.creator_flag)), line.agent_id ? ` ${line.agent_id}` : ""),
          h("td", {}, percent(line.confidence)),
          h("td", {}, Object.entries(line.fields || {}).map(([f, c]) => h("div", {}, `${f}: ${shown(c.before)} → ${shown(c.after)}`)),
            line.error ? h("div", { class: "error" }, line.error.code) : null),
          h("td", { class: "muted" }, line.approval_id || ""),
          h("td", { class: "muted" }, line.correlation_id || "")));
        if (append) rows.append(...lines); else rows.replaceChildren(...lines);
        cursor = page.next_cursor;
        more.hidden = !cursor;
        status.textContent = rows.children.length ? `${rows.children.length} line(s)` : "No activity matches.";
      } catch (error) {
        if (mine !== asked) return;
        status.textContent = `Not loaded: ${error.message}`;
      }
    };
    more.addEventListener("click", () => load(true));
    const view = startView("Activity",
      h("h2", {}, "Activity"),
      h("p", { class: "muted" }, "Every bot and AI action, held action and decision, newest first (kept 90 days)."),
      h("form", { class: "filters", "aria-label": "Activity filters", onsubmit: (event) => { event.preventDefault(); load(false); } },
        h("label", { for: "f-creator_flag" }, "Creator"), filters.creator_flag,
        h("label", { for: "f-agent_id" }, "Agent"), filters.agent_id,
        h("label", { for: "f-status" }, "Status"), filters.status,
        h("label", { for: "f-action" }, "Action"), filters.action,
        h("button", { type: "submit" }, "Filter")),
      status,
      h("table", { class: "activity", "aria-label": "Activity log" },
        h("thead", {}, h("tr", {}, ["When", "Action", "Status", "Record", "By", "Confidence", "Fields", "Approval", "Correlation id"].map((c) => h("th", { scope: "col" }, c)))),
        rows),
      more);
    load(false);
  }

  // ---- the anomalies banner -------------------------------------------------------------------
  async function refreshBanner() {
    const banner = document.getElementById("anomaly-banner");
    if (!banner || !state.token) return;
    let active = [];
    try {
      active = (await api(`${API}/anomalies?status=active`)).data;
    } catch (error) {
      banner.hidden = true; // e.g. a producer's key: anomalies are an approver's
      return;
    }
    banner.hidden = active.length === 0;
    banner.replaceChildren(...active.map((anomaly) => h("div", { class: `anomaly anomaly-${anomaly.severity}`, "data-anomaly-id": anomaly.id },
      h("strong", {}, anomaly.severity === "error" ? "Anomaly: " : "Warning: "), anomaly.title, " ",
      h("button", { type: "button", class: "secondary", onclick: async () => {
        await api(`${API}/anomalies/${encodeURIComponent(anomaly.id)}/acknowledge`, { method: "POST" });
        refreshBanner();
      } }, "Acknowledge"))));
  }

  pages.approvals = (rest) => (rest[0] ? oneApprovalView(rest[0]) : inboxView());
  pages.activity = () => activityView();
  document.addEventListener("DOMContentLoaded", () => {
    const tick = async () => {
      try {
        await refreshBanner();
      } catch (error) {
        console.warn(error);
      }
      setTimeout(tick, BANNER_POLL_MS);
    };
    setTimeout(tick, 200);
  });
})();
