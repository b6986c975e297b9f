// The live market-data streams (sandbox and live modes): one row per venue, symbol and kind,
// a stale stream in red. Uses the helpers of app.js (api, $, cell, fillTable).
"use strict";

function age(s) {
  if (s === null || s === undefined) return "never";
  return s < 60 ? Number(s).toFixed(1) + " s ago" : Math.round(s / 60) + " min ago";
}

async function refreshStreams() {
  const data = await api("/marketdata/streams");
  $("streams").classList.toggle("hidden", data.items.length === 0);
  $("streams-summary").textContent = data.items.length + " streams · " +
    (data.stale ? data.stale + " stale" : "none stale") +
    (data.rest_fallback ? " · " + data.rest_fallback + " degraded (websocket down, on REST)" : "") +
    (data.polled ? " · " + data.polled + " polled (REST by design)" : "") +
    (data.stale_after_s ? " (stale after " + data.stale_after_s + " s without a message)" : "");
  fillTable("stream-rows", data.items, (tr, s) => {
    cell(tr, s.venue); cell(tr, s.symbol); cell(tr, s.stream + (s.polled ? " (polled)" : ""));
    cell(tr, String(s.messages)); cell(tr, age(s.age_s));
    cell(tr, String(s.reconnects)); cell(tr, String(s.resyncs));
    const td = cell(tr, "");
    const badge = document.createElement("span");
    const fallback = s.state === "rest_fallback";
    badge.className = "outcome " + (s.stale || fallback ? "stale" : "live");
    badge.textContent = s.stale ? "stale" : fallback ? "degraded: REST fallback since " +
      new Date(s.fallback_since_ms).toISOString().slice(11, 19) + " UTC, " +
      s.reconnect_attempts + " reconnect attempt(s)" :
      s.state === "polled" ? "polled (REST by design)" : "live";
    td.appendChild(badge);
    tr.dataset.stream = s.venue + "/" + s.symbol + "/" + s.stream;
    tr.dataset.stale = String(s.stale);
    tr.dataset.state = s.state;
    if (s.error) tr.title = s.error;
  });
}
