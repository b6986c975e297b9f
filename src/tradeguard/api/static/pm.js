// Prediction-market panels: cross-venue arbitrage (attempts, held pairs, settlement mismatches)
// settlements and nettings. Uses the helpers of app.js (api, $, cell, fillTable, num, qty, ts, signed).
"use strict";

async function refreshPm(strategies) {
  const settled = await api("/settlements?limit=20");
  $("settlements").classList.toggle("hidden", settled.total === 0);
  fillTable("settlement-rows", settled.items, (tr, s) => {
    cell(tr, ts(s.ts)); cell(tr, s.venue); cell(tr, s.market); cell(tr, s.resolution);
    cell(tr, (s.outcome || "").toUpperCase()); cell(tr, qty(s.contracts));
    const td = cell(tr, ""); signed(td, s.cash); td.textContent += " " + (s.quote || "");
  });
  const nets = await api("/nettings?limit=20");
  $("nettings").classList.toggle("hidden", nets.total === 0);
  fillTable("netting-rows", nets.items, (tr, n) => {
    cell(tr, ts(n.ts)); cell(tr, n.venue); cell(tr, n.symbol);
    cell(tr, (n.outcome || "").toUpperCase()); cell(tr, qty(n.contracts)); cell(tr, num(n.price, 4));
    const td = cell(tr, ""); signed(td, n.cash);
  });
  const crossVenue = strategies.some((s) => s.kind === "cross_venue");
  if (!crossVenue) { $("pm-arb").classList.add("hidden"); return; }
  const data = await api("/pm/arb?limit=20");
  $("pm-arb").classList.remove("hidden");
  fillTable("pm-attempts", data.attempts, (tr, a) => {
    cell(tr, ts(a.ts)); cell(tr, a.pair_id); cell(tr, a.direction === 0 ? "YES pm + NO kalshi" :
      "YES kalshi + NO pm");
    cell(tr, qty(a.size)); cell(tr, num(a.expected_edge, 4));
    cell(tr, a.outcome === "rejected" ? "–" : num(a.actual_edge, 4));
    const td = cell(tr, "");
    const badge = document.createElement("span");
    badge.className = "outcome " + a.outcome;
    badge.textContent = a.outcome;
    td.appendChild(badge);
    tr.dataset.outcome = a.outcome;
    if (a.reason) tr.title = a.reason;
  });
  fillTable("pm-held", data.held, (tr, h) => {
    cell(tr, h.pair_id); cell(tr, h.legs.join(" · ")); cell(tr, qty(h.contracts));
    cell(tr, num(h.capital)); cell(tr, ts(h.settles_at_ms));
  });
  fillTable("pm-mismatches", data.mismatches, (tr, m) => {
    cell(tr, ts(m.ts)); cell(tr, m.pair_id); cell(tr, m.mismatch);
    const td = cell(tr, ""); signed(td, "-" + m.mismatch_loss);
  });
}
