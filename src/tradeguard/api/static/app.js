// tradeguard dashboard: plain JavaScript, no build step, nothing fetched from outside this server.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "tradeguard.token";
const $ = (id) => document.getElementById(id);
let socket = null;
let refreshTimer = null;
let retryTimer = null;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, options = {}) {
  const headers = Object.assign({ "Authorization": "Bearer " + token() }, options.headers || {});
  if (options.body) headers["Content-Type"] = "application/json";
  const res = await fetch(API + path, Object.assign({}, options, { headers }));
  if (res.status === 401) { showLogin("The token was refused; paste a valid one."); throw new Error("401"); }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(body.error || body.detail || ("HTTP " + res.status));
    err.status = res.status;
    throw err;
  }
  return body;
}

// formatting (values arrive as decimal strings and are only shown, never computed with)
function num(v, places = 2) {
  if (v === null || v === undefined || v === "") return "–";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  return n.toLocaleString(undefined, { minimumFractionDigits: places, maximumFractionDigits: places });
}
// prices keep six significant digits below 1 (a 0.00001234 price must not read "0.00")
function price(v) {
  if (v === null || v === undefined || v === "") return "–";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  if (n === 0 || Math.abs(n) >= 1) return num(v, 2);
  return n.toLocaleString(undefined, { maximumSignificantDigits: 6 });
}
// money in the valuation asset: cents for a currency, finer for a coin (0.0097 BTC of
// unrealized P&L is about 1,000 USD, and "0.00" said there was none)
const CASH = new Set(["USD", "USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI", "PUSD", "EUR"]);
let moneyPlaces = 2;
function money(v) { return num(v, moneyPlaces); }
// quantities show the server's decimal digits: a Number read 0.00000013 BTC of dust as "1.3e-7"
// and cut an 18-decimal token amount to 17 digits
function qty(v) {
  if (v === null || v === undefined || v === "") return "–";
  const s = String(v);
  if (/^-?\d+\.\d+$/.test(s)) return s.replace(/0+$/, "").replace(/\.$/, "");
  if (/^-?\d+$/.test(s)) return s;
  const n = Number(s);
  if (!Number.isFinite(n)) return s;
  return n.toLocaleString("en-US", { useGrouping: false, maximumFractionDigits: 20 });
}
// a fee: four places, or every digit of one below 0.0001 (0.1 % of a 0.001 BTC buy, kept in
// BTC, is 0.000001 BTC, and "0.0000 BTC" read as a trade that paid none)
function fee(v) {
  const n = Number(v);
  return Number.isFinite(n) && n !== 0 && Math.abs(n) < 0.0001 ? qty(v) : num(v, 4);
}
function signed(el, v, places = 2) {
  el.textContent = num(v, places);
  el.classList.toggle("pos", Number(v) > 0);
  el.classList.toggle("neg", Number(v) < 0);
}
function ts(ms) { return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "–"; }
function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}
function fillTable(id, rows, render) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren();
  for (const r of rows) { const tr = document.createElement("tr"); render(tr, r); body.appendChild(tr); }
  const empty = document.querySelector('.empty[data-for="' + id + '"]');
  if (empty) empty.classList.toggle("hidden", rows.length > 0);
}

// charts: hand-drawn SVG polylines
function drawLine(svgId, values, color, invert) {
  const svg = $(svgId);
  svg.replaceChildren();
  if (values.length < 2) return;
  const w = 600, h = 180, pad = 6;
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi === lo) { hi += 1; lo -= invert ? 0 : 1; }
  const pts = values.map((v, i) => {
    const x = (i / (values.length - 1)) * w;
    const frac = (v - lo) / (hi - lo);
    const y = invert ? pad + frac * (h - 2 * pad) : h - pad - frac * (h - 2 * pad);
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  const ns = "http://www.w3.org/2000/svg";
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", color);
  line.setAttribute("stroke-width", "2");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.appendChild(line);
  for (const [label, y] of [[num(invert ? lo : hi), 14], [num(invert ? hi : lo), h - 4]]) {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", "4"); t.setAttribute("y", String(y));
    t.setAttribute("fill", "#8a96a3"); t.setAttribute("font-size", "11");
    t.textContent = label;
    svg.appendChild(t);
  }
}

function renderState(s) {
  // a replay: where it stands in its data (where it stopped, once a stop asked for ended it)
  const r = s.replay && s.replay.candles_total ? s.replay : null;
  $("mode").textContent = "mode " + s.mode +
    (r ? " \u00b7 candle " + r.candles_done.toLocaleString() + " of " +
      r.candles_total.toLocaleString() : "");
  const badge = $("state-badge");
  badge.textContent = s.trading_state;
  badge.className = "pill state " + s.trading_state;
  const banner = $("state-reason");
  banner.classList.toggle("hidden", s.trading_state === "ACTIVE");
  // a loss limit holding the state says which mode it tripped in and what that did
  const loss = s.loss_halt && s.loss_halt.holds ? s.loss_halt : null;
  banner.textContent = s.trading_state === "ACTIVE" ? "" :
    s.trading_state + ": " + (s.reason || "") + (s.by ? " (by " + s.by + ")" : "") +
    (loss ? " \u2014 risk.on_loss_halt = " + loss.mode + ": " + loss.did : "");
  moneyPlaces = CASH.has(s.valuation_asset) ? 2 : 6;
  $("equity").textContent = money(s.equity) + " " + s.valuation_asset;
  signed($("daily-pnl"), s.daily_pnl.pnl, moneyPlaces);
  $("daily-limit").textContent = s.daily_pnl.limit ?
    "loss " + money(s.daily_pnl.loss_used) + " of " + money(s.daily_pnl.limit) + " limit (" +
    (s.daily_pnl.used_pct || "0") + "%)" : "no daily loss limit set";
  signed($("realized"), s.realized_pnl, moneyPlaces);
  signed($("unrealized"), s.unrealized_pnl, moneyPlaces);
  renderLimits(s.risk);
}

function renderLimits(risk) {
  const box = $("limits");
  box.replaceChildren();
  const rows = [
    ["Daily loss", risk.limits.daily_loss],
    ["Weekly loss", risk.limits.weekly_loss],
    ["Current drawdown", risk.breakers.drawdown],
    ["Trades today", risk.limits.trades_today],
  ];
  const cl = risk.breakers.consecutive_losses;
  rows.push(["Losing streak", { used: String(cl.value), limit: String(cl.limit),
    used_pct: cl.limit ? String((100 * cl.value) / cl.limit) : null, unit: "trades" }]);
  for (const [label, l] of rows) {
    if (!l) continue;
    const div = document.createElement("div");
    div.className = "limit";
    div.dataset.limit = label;
    const name = document.createElement("span"); name.textContent = label;
    const bar = document.createElement("div"); bar.className = "bar";
    const fill = document.createElement("div");
    const pct = l.used_pct === null || l.used_pct === undefined ? null : Number(l.used_pct);
    fill.style.width = Math.min(100, Math.max(0, pct || 0)) + "%";
    if (pct !== null && pct >= 100) bar.classList.add("over"); else if (pct !== null && pct >= 80) bar.classList.add("warn");
    bar.appendChild(fill);
    const txt = document.createElement("span");
    // what is used of the limit in its own unit, then the share of the limit: "2.56 of
    // 10.00 % (25.6% used)"; a bare "25.6% of 10.00 %" read as a drawdown of 25.6 %
    txt.textContent = l.limit === null || l.limit === undefined ? "no limit set" :
      (l.used ?? "–") + " of " + l.limit + " " + (l.unit || "") +
      (pct === null ? "" : " (" + pct.toFixed(1) + "% used)");
    div.append(name, bar, txt);
    box.appendChild(div);
  }
  const venues = Object.entries(risk.breakers.venues || {}).map(([v, b]) => v + ": " + b.state);
  const stale = risk.breakers.stale_symbols || [];
  $("breakers").textContent = "venue breakers: " + (venues.join(", ") || "all closed") +
    (stale.length ? " · stale data: " + stale.join(", ") : "");
}

// A token bound to one bot reads that bot alone: the account's routes answer it 403. The
// dashboard asks first which the token is (/safety/status, which any token reads, names its bot)
// and then shows the trading state and that bot, with the emergency stop (the bot's own),
// hiding every panel and control the token may not use; it never asks an account route.
let botScoped = false;
let scopeKnown = null;  // the token's scope once asked: a promise, so it is asked once

function enterBotScope() {
  if (botScoped) return;
  botScoped = true;
  for (const s of $("main").querySelectorAll(":scope > section")) {
    if (s.id !== "bots") s.classList.add("hidden");
  }
  for (const el of [$("bots-totp").parentElement, $("bot-orders"),
    $("bot-orders").previousElementSibling, document.querySelector('[data-for="bot-orders"]')]) {
    el.classList.add("hidden");
  }
}

function learnScope() {
  if (scopeKnown === null) {
    scopeKnown = api("/safety/status").then((s) => {
      if (s.token_bot) enterBotScope();
      return s;
    }).catch((e) => { scopeKnown = null; throw e; });
  }
  return scopeKnown;
}

function boundToBot(e) {
  if (!(e && e.status === 403 && /is bound to bot/.test(e.message))) return false;
  enterBotScope();
  return true;
}

async function refreshBotScope() {
  const s = await api("/safety/status");
  $("mode").textContent = "mode " + s.mode;
  renderStateBadge(s.trading_state);
}

async function refresh() {
  refreshTimer = null;
  try {
    await learnScope();
    if (botScoped) { await refreshBotScope(); return; }
    const [state, positions, orders, balances, strategies, trades, equity, arbSummary] =
      await Promise.all([
        api("/state"), api("/positions"), api("/orders?status=open"), api("/balances/combined"),
        api("/strategies"), api("/trades?limit=25"), api("/equity?points=400"), api("/arb/summary"),
      ]);
    renderState(state);
    fillTable("positions", positions.items, (tr, p) => {
      cell(tr, p.symbol); cell(tr, p.strategy_id); cell(tr, p.side); cell(tr, qty(p.quantity));
      cell(tr, price(p.entry_price)); cell(tr, price(p.mark));
      const td = cell(tr, ""); signed(td, p.unrealized_pnl, moneyPlaces);
      const pc = cell(tr, ""); signed(pc, p.unrealized_pnl_pct);
    });
    fillTable("open-orders", orders.items, (tr, o) => {
      cell(tr, o.client_order_id); cell(tr, o.symbol); cell(tr, o.side); cell(tr, o.type);
      cell(tr, qty(o.amount)); cell(tr, price(o.price)); cell(tr, o.status);
    });
    // exchanges, DEX wallets and prediction markets side by side, valued in one asset
    $("balance-venues").textContent = Object.entries(balances.venues)
      .map(([v, value]) => v + " " + money(value)).join(" · ") +
      " · total " + money(balances.total_value) + " " + balances.valuation_asset;
    fillTable("balances", balances.assets, (tr, a) => {
      cell(tr, a.asset); cell(tr, qty(a.total));
      cell(tr, Object.entries(a.venues).map(([v, q]) => v + ": " + qty(q)).join(" · "));
      cell(tr, money(a.value));
    });
    fillTable("strategies", strategies.items, (tr, s) => {
      const p = s.performance;
      tr.dataset.strategy = s.id;
      cell(tr, s.id); cell(tr, s.paused ? "paused" : s.status, s.paused ? "neg status" : "status");
      cell(tr, String(p.trades));
      cell(tr, p.win_rate === null ? "–" : (100 * p.win_rate).toFixed(1) + "%");
      cell(tr, p.sharpe === null ? "–" : Number(p.sharpe).toFixed(2));
      cell(tr, p.profit_factor_infinite ? "∞" : (p.profit_factor === null ? "–" : Number(p.profit_factor).toFixed(2)));
      const td = cell(tr, ""); signed(td, p.total_pnl, moneyPlaces);
      pauseControl(cell(tr, ""), s);  // strategies.js
    });
    fillTable("trades", trades.items, (tr, t) => {
      cell(tr, ts(t.ts)); cell(tr, t.strategy_id); cell(tr, t.symbol); cell(tr, t.side);
      cell(tr, qty(t.amount)); cell(tr, price(t.price)); cell(tr, fee(t.fee) + (t.fee_asset ? " " + t.fee_asset : ""));  // a buy's fee may be in the base asset
      cell(tr, describeSignal(t.signal), "signal");
    });
    const arbStrategy = strategies.items.some((s) => s.kind === "triangular");
    if (arbStrategy || arbSummary.cycles > 0) {
      renderArb(arbSummary, await api("/arb/executions?limit=" + ARB_ROWS));
    } else {
      $("arb").classList.add("hidden");
    }
    await refreshPm(strategies.items);
    await refreshStreams();
    const pts = equity.points;
    drawLine("equity-chart", pts.map((p) => Number(p.equity)), "#3fb950", false);
    drawLine("drawdown-chart", pts.map((p) => -p.drawdown_pct), "#f85149", false);
    $("max-dd").textContent = num(state.max_drawdown_pct, 3) + "%";  // the run's, not the chart's
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (boundToBot(e)) { scheduleRefresh(0); refreshBots(); return; }
    $("updated").textContent = "update failed: " + e.message;
  }
}

// arbitrage: the latest cycles, their figures, and a warning while a held asset is still held
const ARB_ROWS = 20;

function pct(v, places = 3) {
  if (v === null || v === undefined || v === "") return "–";
  const n = Number(v);
  return Number.isFinite(n) ? (n > 0 ? "+" : "") + n.toFixed(places) + "%" : String(v);
}

function arbRow(tr, c) {
  cell(tr, ts(c.ts)); cell(tr, c.strategy_id); cell(tr, c.path);
  const td = cell(tr, "");
  const badge = document.createElement("span");
  badge.className = "outcome " + c.outcome;
  badge.textContent = c.outcome;
  td.appendChild(badge);
  tr.dataset.outcome = c.outcome;
  cell(tr, pct(c.expected_profit_pct));
  const actual = cell(tr, c.outcome === "rejected" ? "–" : pct(c.actual_profit_pct));
  actual.classList.toggle("pos", Number(c.actual_profit_pct) > 0);
  actual.classList.toggle("neg", Number(c.actual_profit_pct) < 0);
  const profit = cell(tr, "");
  if (c.outcome === "rejected") profit.textContent = "–";
  else { signed(profit, c.actual_profit, 4); profit.textContent += " " + (c.start_asset || ""); }
  cell(tr, c.latency_ms === null || c.latency_ms === undefined ? "–" :
    Number(c.latency_ms).toFixed(0) + " ms");
  if (c.reason) tr.title = c.reason;
}

function renderArbHeld(held, detail) {
  const box = $("arb-held");
  const assets = Object.entries(held || {}).map(([a, q]) => qty(q) + " " + a);
  box.classList.toggle("hidden", assets.length === 0);
  box.textContent = assets.length === 0 ? "" :
    "⚠ Held from arbitrage cycles: " + assets.join(", ") + (detail ? " · " + detail : "") +
    ". Sell it back to the start asset or keep it deliberately.";
}

function renderArb(sum, page) {
  $("arb").classList.remove("hidden");
  fillTable("arb-cycles", page.items, arbRow);
  const o = sum.by_outcome || {};
  const share = (x) => x === null || x === undefined ? "–" : (100 * x).toFixed(1) + "%";
  const profit = Object.entries(sum.profit || {}).map(([a, p]) =>
    num(p.total, 4) + " " + a + " (mean " + num(p.mean, 4) + ")").join(", ") || "–";
  const figures = [
    ["cycles", sum.cycles + " (" + ["completed", "unwound", "held", "failed", "rejected"]
      .map((k) => (o[k] || 0) + " " + k).join(", ") + ")"],
    ["completed", share(sum.completed_rate) + " of sent"],
    ["win rate", share(sum.win_rate)],
    ["profit", profit],
    ["slippage", sum.slippage_pct.mean === null ? "–" : pct(sum.slippage_pct.mean) + " mean"],
    ["latency", sum.latency_ms.p50 === null ? "–" :
      "p50 " + sum.latency_ms.p50 + " ms · p99 " + sum.latency_ms.p99 + " ms"],
  ];
  const box = $("arb-summary");
  box.replaceChildren();
  for (const [label, value] of figures) {
    const span = document.createElement("span");
    span.dataset.figure = label;
    const b = document.createElement("b");
    b.textContent = value;
    span.append(label + ": ", b);
    box.appendChild(span);
  }
  const n = sum.held_cycles;
  renderArbHeld(sum.held_now, n ? n + " held cycle" + (n > 1 ? "s" : "") + ", last " +
    ts(sum.last_held_ts) : "");
}

// A pushed cycle shows at once; the next refresh brings the stored record and the figures.
function onArbEvent(ev) {
  $("arb").classList.remove("hidden");
  if (ev.kind === "arb.held") {
    renderArbHeld(ev.data.held, ev.data.path);
    return;
  }
  const body = document.querySelector("#arb-cycles tbody");
  const tr = document.createElement("tr");
  arbRow(tr, Object.assign({ ts: ev.ts, strategy_id: ev.strategy_id }, ev.data));
  body.prepend(tr);
  while (body.rows.length > ARB_ROWS) body.deleteRow(-1);
  document.querySelector('.empty[data-for="arb-cycles"]').classList.add("hidden");
}

function describeSignal(sig) {
  if (!sig || typeof sig !== "object") return "";
  return Object.entries(sig).map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join(" ");
}

function scheduleRefresh(delay = 250) {
  if (refreshTimer === null) refreshTimer = setTimeout(refresh, delay);
}

// One stream at a time: a socket that was replaced or closed on purpose (logout) schedules no
// retry, else its late close would close the next stream, and so on every two seconds.
function disconnect() {
  if (retryTimer !== null) { clearTimeout(retryTimer); retryTimer = null; }
  const old = socket;
  socket = null;
  if (old) old.close();
}

function connect() {
  disconnect();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + location.host + API + "/stream");
  socket = ws;
  ws.onopen = () => ws.send(JSON.stringify({ token: token() }));
  ws.onmessage = (msg) => {
    if (socket !== ws) return;
    const ev = JSON.parse(msg.data);
    if (ev.type === "hello") { $("ws-status").textContent = "live"; $("ws-status").className = "pill on"; }
    if (ev.kind === "arb.execution" || ev.kind === "arb.held") onArbEvent(ev);
    scheduleRefresh();
  };
  ws.onclose = (ev) => {
    if (socket !== ws) return;  // replaced by a newer stream or closed by logout
    $("ws-status").textContent = "offline"; $("ws-status").className = "pill off";
    if (ev.code === 4401) { showLogin("The live stream refused the token."); return; }
    if (ev.code === 4403) { $("ws-status").textContent = "no stream for a bot token"; return; }
    if (retryTimer === null) retryTimer = setTimeout(() => { retryTimer = null; if (token()) connect(); }, 2000);
  };
}

// mode and health need no token, so they show before login too
async function showHealth() {
  try {
    const res = await fetch(API + "/health");
    const body = await res.json();
    $("mode").textContent = "mode " + body.mode;
    // 503 while the node starts (markets not loaded): the API answers, trading is not ready
    const starting = !res.ok && ((body.checks || {}).startup || {}).state === "starting";
    $("health").textContent = res.ok ? "api ok" : starting ? "starting" : "api down";
    $("health").className = res.ok ? "pill on" : starting ? "pill warn" : "pill off";
    showUserStreams(((body.checks || {}).venues || {}).venues || {});
  } catch (e) {
    $("health").textContent = "api down"; $("health").className = "pill off";
  }
}

// each venue's private stream (orders, fills, balances): connected since when, last message
function showUserStreams(venues) {
  const parts = Object.entries(venues).map(([v, item]) => {
    const s = item.user_stream || {};
    if (s.state === "none") return v + ": none";
    if (s.state !== "connected" && s.state !== "disconnected") return v + ": " + (s.state || "?");
    const since = s.since_ms ? new Date(s.since_ms).toISOString().slice(11, 19) + " UTC" : "?";
    const last = s.last_message_age_s === null || s.last_message_age_s === undefined
      ? "no message yet" : "last message " + s.last_message_age_s + " s ago";
    return v + ": " + s.state + " since " + since + ", " + last + ", " + s.reconnects + " reconnect(s)";
  });
  $("user-streams").textContent = "user streams: " + (parts.join(" · ") || "no venues");
}

function showLogin(message) {
  $("login").classList.remove("hidden");
  $("main").classList.add("hidden");
  $("login-error").textContent = message || "";
}

function start() {
  $("login").classList.add("hidden");
  $("main").classList.remove("hidden");
  refresh();
  learnScope().then(() => {
    // the live stream is the account's: a bot's token is refused it
    if (botScoped) $("ws-status").textContent = "no stream for a bot token";
    else connect();
  }).catch(() => {});  // refresh() shows why
}

// emergency stop: a button, then an explicit confirmation
function openStop() {
  if (!token()) { showLogin("Connect with a trader token to use the emergency stop."); return; }
  $("stop-error").textContent = "";
  $("stop-dialog").showModal();
}

// A bot's own token may not halt the node (/kill answers 403): its stop is the bot's, through
// the safety service's route, which disables that bot and cancels its entries.
async function stopOwnBot(reason) {
  const out = await api("/safety/emergency-stop", { method: "POST",
    body: JSON.stringify({ reason }) });
  $("stop-dialog").close();
  refresh();
  refreshBots();  // bots.js: the Signal bots panel shows the bot disabled now, not at its timer
  return out;
}

async function confirmStop() {
  const flatten = $("stop-flatten").checked;
  const headers = {};
  if (flatten) headers["X-TOTP"] = $("stop-totp").value.trim();
  const btn = $("confirm-stop");
  const reason = $("stop-reason").value || "emergency stop";
  btn.disabled = true;
  try {
    if (botScoped) return await stopOwnBot(reason);  // /kill is the account's: never asked
    let out;
    try {
      out = await api("/kill", { method: "POST", headers,
        body: JSON.stringify({ reason, flatten }) });
    } catch (e) {
      if (e.status === 403 && /is bound to bot/.test(e.message)) return await stopOwnBot(reason);
      throw e;
    }
    $("stop-dialog").close();
    renderStateBadge(out.trading_state);
    refresh();
  } catch (e) {
    $("stop-error").textContent = "Stop failed: " + e.message;
  } finally {
    btn.disabled = false;
  }
}

function renderStateBadge(state) {
  const badge = $("state-badge");
  badge.textContent = state;
  badge.className = "pill state " + state;
}

document.addEventListener("DOMContentLoaded", () => {
  $("stop-btn").addEventListener("click", openStop);
  $("confirm-stop").addEventListener("click", confirmStop);
  $("cancel-stop").addEventListener("click", () => $("stop-dialog").close());
  $("stop-flatten").addEventListener("change", (e) => $("stop-totp").classList.toggle("hidden", !e.target.checked));
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
    $("token-input").value = "";
    if (botScoped) { location.reload(); return; }  // a bot's token was refused: a new page
    scopeKnown = null;  // another token: ask its scope again
    start();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    if (botScoped) { location.reload(); return; }  // the next token gets every panel back
    disconnect();
    $("ws-status").textContent = "offline"; $("ws-status").className = "pill off";
    showLogin("");
  });
  showHealth();
  setInterval(showHealth, 5000);  // the health (and user streams) move without events
  // marks move equity, P&L and drawdown without an event: refresh the figures on a timer too
  setInterval(() => { if (token() && !document.hidden) scheduleRefresh(0); }, 5000);
  if (token()) start(); else showLogin("");
});
