// The lnkit node's web page. It uses only the node's public control API: JSON-RPC 2.0 at POST / and
// the event stream at GET /events, both authenticated by the session cookie the login URL set.
// No framework, no build step. Data from the node is put in the page as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

let rpcID = 0;

// rpc calls method with params and returns its result; an API error is thrown as an Error with the
// API's own message.
async function rpc(method, params) {
  const req = { jsonrpc: "2.0", id: ++rpcID, method };
  if (params !== undefined) req.params = params;
  let resp;
  try {
    resp = await fetch("/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify(req),
    });
  } catch (e) {
    throw new Error("cannot reach the node: " + e.message);
  }
  let body;
  try {
    body = await resp.json();
  } catch (e) {
    throw new Error(`the node answered HTTP ${resp.status} without JSON`);
  }
  if (resp.status === 401) {
    showPageError("Your session has ended: run `lnkit-node webui` for a new login URL.");
  }
  if (body.error) throw new Error(body.error.message);
  return body.result;
}

// el builds an element: attrs are set as attributes (class, data-*, …), children appended (strings
// become text nodes).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 3 });
const sat = (n) => fmt.format(n);
const msatToSat = (msat) => fmt.format(msat / 1000);
const short = (hex) => (hex && hex.length > 20 ? hex.slice(0, 10) + "…" + hex.slice(-6) : hex || "");
const when = (unix) => (unix ? new Date(unix * 1000).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" }) : "");

function showPageError(msg) {
  const p = $("page-error");
  p.textContent = msg;
  p.hidden = !msg;
}

function showMsg(id, msg) {
  const p = $(id);
  p.textContent = msg || "";
  p.hidden = !msg;
}

// fillTable replaces the rows of tbody id with rows, showing the "empty" note when there are none.
function fillTable(id, rows) {
  $(id).replaceChildren(...rows);
  $(id + "-empty").hidden = rows.length > 0;
}

// ---- data ----

let refreshing = null;
let refreshAgain = false;

// refresh reloads every list of the page; calls while one runs make it run once more afterwards.
async function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    do {
      refreshAgain = false;
      await loadAll();
    } while (refreshAgain);
  })();
  try {
    await refreshing;
  } finally {
    refreshing = null;
  }
}

async function loadAll() {
  const calls = {
    info: rpc("getinfo"),
    wallet: rpc("walletbalance"),
    balances: rpc("listbalances"),
    channels: rpc("listchannels"),
    peers: rpc("listpeers"),
    payments: rpc("listpayments"),
    invoices: rpc("listinvoices"),
  };
  const keys = Object.keys(calls);
  const results = await Promise.allSettled(Object.values(calls));
  const data = {};
  const errors = [];
  results.forEach((r, i) => {
    if (r.status === "fulfilled") data[keys[i]] = r.value;
    else errors.push(`${keys[i]}: ${r.reason.message}`);
  });
  if (data.info) renderInfo(data.info);
  if (data.wallet) renderWallet(data.wallet);
  if (data.channels) renderChannels(data.channels.channels || []);
  if (data.balances) renderClaimable(data.balances.channels || []);
  if (data.peers) renderPeers(data.peers.peers || []);
  if (data.payments) renderPayments(data.payments.payments || []);
  if (data.invoices) renderInvoices(data.invoices.invoices || []);
  if (errors.length) showPageError("Loading failed: " + errors.join("; "));
  else if (!$("page-error").textContent.startsWith("Your session")) showPageError("");
  document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
}

function renderInfo(info) {
  $("node-id").textContent = info.node_id;
  $("network").textContent = info.network;
  $("block-height").textContent = String(info.block_height);
  $("synced").textContent = info.synced_to_chain ? "synced" : "syncing…";
  $("listen-addrs").textContent = (info.listen_addrs || []).join(", ") || "not listening";
}

function renderWallet(w) {
  $("bal-onchain").textContent = sat(w.confirmed_sat);
  $("bal-unconfirmed").textContent = sat(w.unconfirmed_sat) + " sat";
  $("bal-claimable").textContent = sat(w.onchain_claimable_sat);
}

function renderChannels(channels) {
  let ours = 0;
  let inbound = 0;
  const rows = channels.map((c) => {
    ours += c.local_balance_msat;
    inbound += c.inbound_capacity_msat;
    const capMsat = c.capacity_sat * 1000;
    const theirsMsat = Math.max(0, capMsat - c.local_balance_msat);
    const pct = capMsat > 0 ? (100 * c.local_balance_msat) / capMsat : 0;
    const bar = capacityBar(pct, `ours ${msatToSat(c.local_balance_msat)} sat, theirs ${msatToSat(theirsMsat)} sat`);
    const state = c.is_usable ? "usable" : c.is_channel_ready ? "ready (peer offline)" : c.state || "pending";
    return el("tr", { "data-testid": "channel-row", "data-channel-id": c.channel_id, "data-usable": String(c.is_usable) },
      el("td", { class: "mono", title: c.node_id }, short(c.node_id)),
      el("td", { class: "num" }, sat(c.capacity_sat)),
      el("td", {}, bar),
      el("td", { class: "num", "data-testid": "channel-local" }, msatToSat(c.local_balance_msat)),
      el("td", { class: "num", "data-testid": "channel-remote" }, msatToSat(theirsMsat)),
      el("td", { "data-testid": "channel-state" }, state + (c.short_channel_id ? ` (${c.short_channel_id})` : "")),
      el("td", {}, closeButton(c.channel_id, false), closeButton(c.channel_id, true)));
  });
  fillTable("channels", rows);
  $("bal-channels").textContent = msatToSat(ours);
  $("bal-inbound").textContent = msatToSat(inbound) + " sat";
}

// capacityBar draws a channel's split: ours (pct percent) then theirs. Widths go through the CSSOM,
// which the page's Content-Security-Policy allows (style attributes it does not).
function capacityBar(pct, title) {
  const ours = el("div", { class: "ours", "data-testid": "bar-ours" });
  const theirs = el("div", { class: "theirs" });
  ours.style.width = pct.toFixed(2) + "%";
  theirs.style.width = (100 - pct).toFixed(2) + "%";
  return el("div", { class: "bar", title }, ours, theirs);
}

// armedUntil holds, by channel id, until when (ms) a first click on "force close" waits for the
// second: kept apart from the buttons, which every refresh draws anew.
const armedUntil = new Map();
const armWindow = 5000;

function closeButton(channelID, force) {
  const armed = force && armedUntil.get(channelID) > Date.now();
  const b = el("button", { type: "button", class: force ? (armed ? "danger armed" : "danger") : "secondary",
    "data-testid": force ? "channel-force-close" : "channel-close" },
    force ? (armed ? "really force close?" : "force close") : "close");
  b.addEventListener("click", () => closeChannel(b, channelID, force));
  return b;
}

// A force close takes a second click within 5 s ("really force close?").
async function closeChannel(button, channelID, force) {
  if (force && !(armedUntil.get(channelID) > Date.now())) {
    armedUntil.set(channelID, Date.now() + armWindow);
    button.classList.add("armed");
    button.textContent = "really force close?";
    setTimeout(() => {
      if (armedUntil.get(channelID) <= Date.now()) armedUntil.delete(channelID);
      if (button.isConnected) { button.classList.remove("armed"); button.textContent = "force close"; }
    }, armWindow);
    return;
  }
  armedUntil.delete(channelID);
  button.disabled = true;
  showMsg("close-error", "");
  showMsg("close-result", "");
  try {
    const r = await rpc("closechannel", { channel_id: channelID, force });
    showMsg("close-result", `${force ? "force " : ""}closing ${short(channelID)}` +
      (r.closing_txid ? `: closing transaction ${r.closing_txid}` : ": the closing transaction follows"));
  } catch (e) {
    showMsg("close-error", e.message);
  } finally {
    button.disabled = false;
    refresh();
  }
}

const balanceKinds = {
  claimable_on_channel_close: "ours on a close",
  claimable_awaiting_confirmations: "awaiting confirmations",
  contentious_claimable: "HTLC we are claiming",
  maybe_timeout_claimable_htlc: "our HTLC, by timeout",
  maybe_preimage_claimable_htlc: "their HTLC, with a preimage",
  counterparty_revoked_output_claimable: "revoked output (justice)",
};

function balanceHeight(b) {
  if (b.confirmation_height) return `final at ${b.confirmation_height}`;
  if (b.claimable_height) return `claimable at ${b.claimable_height}`;
  if (b.timeout_height) return `theirs after ${b.timeout_height}`;
  if (b.expiry_height) return `expires at ${b.expiry_height}`;
  return "—";
}

function renderClaimable(channels) {
  const rows = [];
  for (const c of channels) {
    for (const b of c.balances || []) {
      rows.push(el("tr", { "data-testid": "claimable-row" },
        el("td", { class: "mono", title: c.channel_id }, short(c.channel_id) + (c.open ? "" : " (closed)")),
        el("td", {}, balanceKinds[b.type] || b.type),
        el("td", { class: "num" }, sat(b.amount_sat)),
        el("td", {}, balanceHeight(b))));
    }
  }
  fillTable("claimable", rows);
}

function renderPeers(peers) {
  fillTable("peers", peers.map((p) => el("tr", { "data-testid": "peer-row", "data-node-id": p.node_id },
    el("td", { class: "mono wrap" }, p.node_id),
    el("td", { class: "mono" }, p.address),
    el("td", {}, p.inbound ? "inbound" : "outbound"))));
  $("peer-ids").replaceChildren(...peers.map((p) => el("option", { value: p.node_id })));
}

function renderPayments(payments) {
  const sorted = [...payments].sort((a, b) => b.created_at - a.created_at);
  fillTable("payments", sorted.map((p) => el("tr", { "data-testid": "payment-row", "data-payment-hash": p.payment_hash },
    el("td", {}, when(p.created_at)),
    el("td", { class: "mono", title: p.payment_hash }, short(p.payment_hash)),
    el("td", { class: "mono", title: p.destination }, short(p.destination)),
    el("td", { class: "num" }, msatToSat(p.amount_msat)),
    el("td", { class: "num" }, msatToSat(p.fee_msat)),
    el("td", { class: "status-" + p.status, "data-testid": "payment-status", title: p.failure_reason || "" },
      p.status + (p.failure_reason ? ": " + p.failure_reason : "")))));
}

function renderInvoices(invoices) {
  const sorted = [...invoices].sort((a, b) => b.created_at - a.created_at);
  fillTable("invoices", sorted.map((i) => el("tr", { "data-testid": "invoice-row", "data-payment-hash": i.payment_hash },
    el("td", {}, when(i.created_at)),
    el("td", { class: "mono", title: i.payment_hash }, short(i.payment_hash) + (i.keysend ? " (keysend)" : "")),
    el("td", { class: "num" }, i.amount_msat ? msatToSat(i.amount_msat) : "any"),
    el("td", { class: "num" }, msatToSat(i.received_msat)),
    el("td", { class: "status-" + i.status, "data-testid": "invoice-status" }, i.status),
    el("td", {}, i.bolt11 && i.status === "open" ? showInvoiceButton(i.bolt11) : null))));
}

function showInvoiceButton(bolt11) {
  const b = el("button", { type: "button", class: "secondary", "data-testid": "invoice-show" }, "QR");
  b.addEventListener("click", () => showInvoice(bolt11));
  return b;
}

// showInvoice shows bolt11 and its QR code under the invoice form.
function showInvoice(bolt11) {
  $("invoice-bolt11").textContent = bolt11;
  // Upper case puts the invoice in the QR code's compact alphanumeric mode.
  $("invoice-qr").src = "/ui/qr.png?data=" + encodeURIComponent("LIGHTNING:" + bolt11.toUpperCase());
  $("invoice-out").hidden = false;
}

// ---- forms ----

// onSubmit runs action for form id with its submit button disabled; a thrown error is shown in
// <id>-error in the API's words, a returned string in <id>-result.
function onSubmit(formID, prefix, action) {
  const form = $(formID);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    showMsg(prefix + "-error", "");
    if ($(prefix + "-result")) showMsg(prefix + "-result", "");
    try {
      const msg = await action();
      if (msg && $(prefix + "-result")) showMsg(prefix + "-result", msg);
    } catch (e) {
      showMsg(prefix + "-error", e.message);
    } finally {
      button.disabled = false;
      refresh();
    }
  });
}

// wholeNumber reads input id as a whole number, or throws saying what is wrong.
function wholeNumber(id, what) {
  const v = $(id).value.trim();
  if (!/^[0-9]+$/.test(v)) throw new Error(`${what} must be a whole number`);
  return Number(v);
}

function setupForms() {
  onSubmit("connect-form", "connect", async () => {
    const r = await rpc("connect", { node_id: $("connect-addr").value.trim(), address: "" });
    return "connected to " + r.node_id;
  });
  onSubmit("open-form", "open", async () => {
    const amount = wholeNumber("open-amount", "the amount");
    const pub = $("open-public").checked;
    const r = await rpc("openchannel", { node_id: $("open-peer").value.trim(), amount_sat: amount, public: pub });
    return `funding transaction ${r.funding_txid}:${r.funding_output_index} broadcast; the channel is ready after its confirmations`;
  });
  onSubmit("pay-form", "pay", async () => {
    // The outcome replaces what the invoice asks (and a preview still on its way).
    clearTimeout(previewTimer);
    previewSeq++;
    showMsg("pay-preview", "");
    const p = await rpc("payinvoice", { bolt11: $("pay-bolt11").value.trim() });
    if (p.status === "failed") throw new Error("payment failed: " + (p.failure_reason || "no route"));
    return `payment ${p.status}: ${msatToSat(p.amount_msat)} sat, fee ${msatToSat(p.fee_msat)} sat`;
  });
  onSubmit("invoice-form", "invoice", async () => {
    const raw = $("invoice-amount").value.trim();
    let msat = 0;
    if (raw !== "") {
      if (!/^[0-9]+(\.[0-9]{1,3})?$/.test(raw)) throw new Error("the amount must be in sat, with at most 3 decimals");
      const [whole, frac = ""] = raw.split(".");
      msat = Number(whole) * 1000 + Number(frac.padEnd(3, "0"));
    }
    const inv = await rpc("invoice", { amount_msat: msat, description: $("invoice-memo").value });
    showInvoice(inv.bolt11);
    return "";
  });
}

// The pay form says what an invoice asks before it is paid (decodeinvoice), or why it cannot be read.
let previewSeq = 0;
let previewTimer = null;
async function previewInvoice() {
  const seq = ++previewSeq;
  const bolt11 = $("pay-bolt11").value.trim();
  if (!bolt11) {
    showMsg("pay-preview", "");
    return;
  }
  let text;
  try {
    const d = await rpc("decodeinvoice", { bolt11 });
    text = `${d.amount_msat ? msatToSat(d.amount_msat) + " sat" : "any amount"} to ${short(d.payee)}` +
      (d.description ? `: “${d.description}”` : "") +
      `, expires ${when(d.timestamp + d.expiry_secs)}`;
  } catch (e) {
    text = "cannot read this invoice: " + e.message;
  }
  if (seq === previewSeq) showMsg("pay-preview", text);
}

// ---- events ----

const eventTypes = ["payment_sent", "payment_failed", "payment_received", "channel_pending", "channel_ready",
  "channel_closed", "peer_connected", "peer_disconnected", "block", "bump_failed", "monitor_archived",
  "payment_forwarded", "htlc_handling_failed", "probe_successful", "probe_failed", "custom_message"];
const maxLogEntries = 200;

let refreshTimer = null;

// scheduleRefresh refreshes soon, once for a burst of events.
function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh(); }, 150);
}

function logEvent(ev) {
  const fields = Object.entries(ev).filter(([k]) => k !== "type")
    .map(([k, v]) => `${k}=${typeof v === "string" && /^[0-9a-f]{25,}$/.test(v) ? short(v) : v}`).join(" ");
  const li = el("li", { "data-testid": "event", "data-type": ev.type },
    el("span", { class: "etime" }, new Date().toLocaleTimeString()),
    el("span", { class: "etype" }, ev.type),
    el("span", { class: "mono" }, fields));
  const log = $("event-log");
  log.prepend(li);
  while (log.children.length > maxLogEntries) log.lastChild.remove();
}

function setEventsStatus(text, live) {
  const s = $("events-status");
  s.textContent = text;
  s.classList.toggle("live", live);
}

// connectEvents opens the event stream; EventSource reconnects by itself after a network error, and
// a stream the node refused (e.g. the session ended) is retried every 10 s.
function connectEvents() {
  const es = new EventSource("/events", { withCredentials: true });
  es.onopen = () => { setEventsStatus("live", true); scheduleRefresh(); };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      setEventsStatus("disconnected, retrying…", false);
      setTimeout(connectEvents, 10000);
    } else {
      setEventsStatus("reconnecting…", false);
    }
  };
  for (const t of eventTypes) {
    es.addEventListener(t, (msg) => {
      let ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      logEvent(ev);
      scheduleRefresh();
    });
  }
}

// fallbackRefresh is how often the page reloads its data without an event (peers come and go without
// one), in ms.
const fallbackRefresh = 30000;

document.addEventListener("DOMContentLoaded", () => {
  setupForms();
  $("pay-bolt11").addEventListener("input", () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(previewInvoice, 300);
  });
  connectEvents();
  refresh();
  setInterval(refresh, fallbackRefresh);
});
