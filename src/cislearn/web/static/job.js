// Live status of a job page: poll the status endpoint, update the text, reload when finished.
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box || box.dataset.active !== "true") return;
  var id = box.dataset.job;
  function set(elId, text) {
    var el = document.getElementById(elId);
    if (el) el.textContent = text; // textContent: never parsed as HTML
  }
  function poll() {
    fetch("/api/v1/jobs/" + id, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        if (!job.status) return;
        set("status", job.status);
        document.getElementById("status").className = "status-" + job.status;
        // the stage, unless it only repeats the status ("done done")
        set("stage", job.progress.stage !== job.status ? job.progress.stage || "" : "");
        set("message", job.progress.message || "");
        set("log", (job.log_tail || []).join("\n"));
        var bar = document.getElementById("progress");
        if (job.progress.fraction !== null) bar.value = job.progress.fraction;
        else bar.removeAttribute("value");
        if (["done", "failed", "cancelled"].indexOf(job.status) >= 0) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
