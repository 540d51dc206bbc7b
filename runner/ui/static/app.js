// sluice ui: the run page's live progress, polled from /api/runs/ID/progress every second.
// Values are written with textContent only: stream names are user data.
"use strict";

(function () {
  const live = document.getElementById("live");
  if (!live) {
    return;
  }
  const runId = live.dataset.run;
  const body = live.querySelector("tbody");
  const note = document.getElementById("live-note");
  const number = new Intl.NumberFormat("en-US");

  function utc(ts) {
    return new Date(ts * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function rate(r) {
    if (r === null || r === undefined) {
      return "-";
    }
    return r >= 10 ? number.format(Math.round(r)) + "/s" : r.toFixed(1) + "/s";
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) {
      td.className = cls;
    }
    return td;
  }

  function render(streams) {
    const rows = streams.map(function (s) {
      const tr = document.createElement("tr");
      const committed = s.committed === null || s.committed === undefined ? "-" : number.format(s.committed);
      tr.append(cell(s.stream, "stream"), cell(number.format(s.records), "num"), cell(committed, "num"),
                cell(rate(s.rate), "num"),
                cell(utc(s.updated_at)));
      return tr;
    });
    body.replaceChildren(...rows);
  }

  async function tick() {
    try {
      const reply = await fetch("/api/runs/" + encodeURIComponent(runId) + "/progress",
                                {credentials: "same-origin", cache: "no-store"});
      if (reply.ok) {
        const data = await reply.json();
        if (data.status !== "running") {
          note.textContent = "The run ended (" + data.status + "): reloading.";
          window.location.reload();
          return;
        }
        render(data.streams);
        note.textContent = "Updated " + utc(Date.now() / 1000) + ", every second without reloading.";
      }
    } catch (err) {
      note.textContent = "Cannot reach the dashboard: " + err;
    }
    window.setTimeout(tick, 1000);
  }

  window.setTimeout(tick, 1000);
}());
