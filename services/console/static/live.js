// What arrives on the bus, without a reload: on each server-sent "update", the page's live part
// (#live) is fetched again and put in place; forms being filled in are left alone.
(function () {
  const live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  let pending = null;
  function refresh() {
    pending = null;
    if (live.contains(document.activeElement) && document.activeElement.tagName !== "BODY") return;
    fetch(window.location.href, { headers: { "X-Fragment": "live" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : null))
      .then((html) => { if (html !== null) { live.innerHTML = html; live.dataset.refreshed = String(Date.now()); } });
  }
  // What an event changes can reach the ledger a moment after the event itself: asked again twice.
  const source = new EventSource("/live");
  source.addEventListener("update", () => {
    if (pending) return;
    pending = setTimeout(refresh, 200);
    setTimeout(refresh, 1500);
    setTimeout(refresh, 4000);
  });
  document.body.dataset.live = "connecting";
  source.onopen = () => { document.body.dataset.live = "open"; };
})();
