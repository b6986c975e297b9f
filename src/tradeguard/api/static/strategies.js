// tradeguard dashboard, strategies panel: pause or resume one strategy's new entries.
// Loaded after app.js (uses its api, $ and scheduleRefresh helpers).
"use strict";

function strategyTotp() {
  const code = $("strategies-totp").value.trim();
  if (!/^[0-9]{6}$/.test(code)) throw new Error("enter your 6-digit TOTP code first");
  return { "X-TOTP": code };
}

async function setPaused(id, pause) {
  const label = (pause ? "pause " : "resume ") + id;
  const msg = $("strategies-msg");
  msg.textContent = "";
  msg.className = "sub";
  try {
    const reason = pause ? "paused from the dashboard" : "resumed from the dashboard";
    await api("/strategies/" + encodeURIComponent(id) + (pause ? "/pause" : "/resume"),
      { method: "POST", headers: strategyTotp(), body: JSON.stringify({ reason }) });
    msg.textContent = label + ": done";
    scheduleRefresh(0);
  } catch (e) {
    msg.textContent = label + " failed: " + e.message;
    msg.className = "error";
  }
}

// Only configured strategies can be paused; external ids (HTTP orders, bots) have no button.
function pauseControl(td, s) {
  if (s.venue === null && !s.paused) return;
  const b = document.createElement("button");
  b.type = "button";
  b.className = "small";
  b.textContent = s.paused ? "resume" : "pause";
  if (s.paused && s.pause) b.title = "paused by " + s.pause.by + ": " + s.pause.reason;
  b.addEventListener("click", () => setPaused(s.id, !s.paused));
  td.appendChild(b);
}
