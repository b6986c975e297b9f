// tradeguard dashboard, signal bots: per-bot results and controls over the existing routes.
// Loaded after app.js (uses its api, fillTable, cell, num, signed, qty, price helpers).
"use strict";

function botAction(path, body, headers) {
  return api(path, { method: "POST", headers: headers || {}, body: JSON.stringify(body || {}) });
}

function totpHeaders() {
  const code = $("bots-totp").value.trim();
  if (!/^[0-9]{6}$/.test(code)) throw new Error("enter your 6-digit TOTP code first");
  return { "X-TOTP": code };
}

async function runBotControl(label, fn) {
  $("bots-msg").textContent = "";
  $("bots-msg").className = "sub";
  try {
    await fn();
    $("bots-msg").textContent = label + ": done";
    scheduleRefresh(0);
    refreshBots();
  } catch (e) {
    $("bots-msg").textContent = label + " failed: " + e.message;
    $("bots-msg").className = "error";
  }
}

function controlButton(td, text, label, fn) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "small";
  b.textContent = text;
  b.addEventListener("click", () => runBotControl(label, fn));
  td.appendChild(b);
  return b;
}

function scoreBuckets(byScore) {
  if (!byScore || !byScore.length) return "–";
  return byScore.map((b) => b.bucket + ": " + (b.accuracy_pct === null ? "–" : num(b.accuracy_pct, 0) + "%")
    + " (" + b.trades + ")").join(" · ");
}

function renderBots(items, positions, controls = true) {
  $("bots").classList.toggle("hidden", items.length === 0);
  fillTable("bot-table", items, (tr, b) => {
    const s = b.stats;
    tr.dataset.bot = b.bot_id;
    cell(tr, b.bot_id);
    cell(tr, b.enabled ? "enabled" : "disabled", b.enabled ? "pos" : "neg");
    cell(tr, String(s.trades));
    cell(tr, s.win_rate_pct === null ? "–" : num(s.win_rate_pct, 1) + "%", "win-rate");
    signed(cell(tr, "", "pnl"), s.pnl);
    cell(tr, s.expectancy === null ? "–" : num(s.expectancy), "expectancy");
    cell(tr, scoreBuckets(s.by_score), "buckets");
    const td = cell(tr, "");
    if (!controls) return;  // a bot's own token may not enable, disable or close
    const id = encodeURIComponent(b.bot_id);
    if (b.enabled) controlButton(td, "disable", "disable " + b.bot_id, () => botAction("/bots/" + id + "/disable"));
    else controlButton(td, "enable", "enable " + b.bot_id, () => botAction("/bots/" + id + "/enable"));
    const mine = positions.filter((p) => p.strategy_id === b.bot_id);
    if (mine.length) {
      controlButton(td, "close positions", "close " + b.bot_id,
        () => botAction("/bots/" + id + "/close-positions", {}, totpHeaders()));
    }
    for (const p of mine) {  // one position: the same route with its symbol
      controlButton(td, "close " + p.symbol, "close " + b.bot_id + " " + p.symbol,
        () => botAction("/bots/" + id + "/close-positions", { symbol: p.symbol }, totpHeaders()));
    }
  });
}

function renderBotOrders(orders, names) {
  const mine = orders.filter((o) => names.has(o.strategy_id));
  fillTable("bot-orders", mine, (tr, o) => {
    cell(tr, o.client_order_id); cell(tr, o.strategy_id); cell(tr, o.symbol); cell(tr, o.side);
    cell(tr, qty(o.amount)); cell(tr, price(o.price)); cell(tr, o.status);
    controlButton(cell(tr, ""), "cancel", "cancel " + o.client_order_id,
      () => botAction("/orders/" + encodeURIComponent(o.client_order_id) + "/cancel"));
  });
}

async function refreshBots() {
  try {
    await learnScope();  // app.js: a bot's token never asks the account's routes
    if (botScoped) { renderBots((await api("/safety/bots")).items, [], false); return; }
    const [bots, positions, orders, state] = await Promise.all([
      api("/safety/bots"), api("/positions"), api("/orders?status=open"), api("/state"),
    ]);
    renderBots(bots.items, positions.items);
    renderBotOrders(orders.items, new Set(bots.items.map((b) => b.bot_id)));
    const stopped = state.trading_state !== "ACTIVE";
    $("bots-resume").classList.toggle("hidden", !stopped || bots.items.length === 0);
  } catch (e) {
    if (boundToBot(e)) { refreshBots(); return; }
    $("bots-msg").textContent = "bots: " + e.message;
  }
}

function resumeTrading() {
  runBotControl("resume", () => botAction("/resume", { reason: "resumed from the dashboard" }, totpHeaders()));
}

document.addEventListener("DOMContentLoaded", () => {
  $("bots-resume").addEventListener("click", resumeTrading);
  if (token()) refreshBots();
  $("login-form").addEventListener("submit", () => setTimeout(refreshBots, 0));
  setInterval(() => { if (token()) refreshBots(); }, 5000);
});
