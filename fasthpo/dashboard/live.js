// The dashboard's page: the list of jobs, and the chosen job's view redrawn
// whenever the read-only API returns a changed one (polled every two seconds).
(function () {
  "use strict";
  var POLL_MS = 2000;
  var params = new URLSearchParams(window.location.search);
  var token = params.get("token");
  var current = params.get("job");
  var lastText = null;
  var updates = 0;
  var root = document.getElementById("report");
  var state = document.getElementById("state");

  function withToken(path) {
    return token ? path + (path.indexOf("?") < 0 ? "?" : "&") + "token=" + encodeURIComponent(token) : path;
  }

  function get(path) {
    return fetch(withToken(path), {cache: "no-store"}).then(function (response) {
      if (!response.ok) throw new Error(path + ": HTTP " + response.status);
      return response.text();
    });
  }

  function renderJobs(jobs) {
    var nav = document.getElementById("jobs");
    nav.replaceChildren();
    jobs.forEach(function (job) {
      var a = document.createElement("a");
      a.href = withToken("?job=" + encodeURIComponent(job.name));
      a.textContent = job.name + " (" + job.status + ", " + job.trials + ")";
      if (job.name === current) a.className = "current";
      nav.appendChild(a);
    });
  }

  function tick() {
    get("/api/jobs").then(function (text) {
      var jobs = JSON.parse(text);
      if (!current && jobs.length) current = jobs[jobs.length - 1].name;
      renderJobs(jobs);
      if (!current) {
        state.textContent = "no jobs in the store yet";
        document.body.dataset.plotsDrawn = "0";
        return null;
      }
      return get("/api/jobs/" + encodeURIComponent(current)).then(function (viewText) {
        if (viewText === lastText) return null;
        lastText = viewText;
        return window.fasthpoRender(root, JSON.parse(viewText)).then(function () {
          updates += 1;
          document.body.dataset.updates = String(updates);
        });
      });
    }).then(function () {
      state.textContent = "live: updated " + new Date().toLocaleTimeString();
    }).catch(function (err) {
      state.textContent = "cannot read the store: " + err.message;
    }).finally(function () {
      window.setTimeout(tick, POLL_MS);
    });
  }

  tick();
})();
