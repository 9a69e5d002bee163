// Draws a fasthpo job view (summary + Plotly figures) into the page. The same
// code serves the static report (the view is embedded in the page) and the
// dashboard (views fetched from its read-only API, redrawn as they change).
// Job text is only ever set through textContent, never parsed as HTML.
(function () {
  "use strict";

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function pairsTable(pairs, className) {
    var table = el("table", null, className);
    pairs.forEach(function (pair) {
      var row = document.createElement("tr");
      row.appendChild(el("th", pair[0]));
      row.appendChild(el("td", pair[1]));
      table.appendChild(row);
    });
    return table;
  }

  function renderSummary(root, view) {
    var box = root.querySelector(".summary");
    if (!box) {
      box = el("section", null, "summary");
      root.appendChild(box);
    }
    box.replaceChildren();
    box.appendChild(el("h1", view.title));
    box.appendChild(pairsTable(view.summary, "describe"));
    if (view.best) {
      var best = el("div", null, "best");
      best.id = "best-trial";
      best.dataset.trialId = String(view.best.trial_id);
      best.appendChild(el("h2", "Best trial " + view.best.trial_id + ": " + view.best.objective));
      best.appendChild(pairsTable(view.best.hyperparameters, "hyperparameters"));
      box.appendChild(best);
    } else {
      box.appendChild(el("p", "No best trial yet: no completed trial with a finite objective.", "best none"));
    }
  }

  function figureBox(root, figure) {
    var id = "fig-" + figure.id;
    var section = document.getElementById("section-" + figure.id);
    if (!section) {
      section = el("section", null, "figure");
      section.id = "section-" + figure.id;
      section.appendChild(el("h2"));
      var plot = el("div", null, "plot");
      plot.id = id;
      section.appendChild(plot);
      section.appendChild(el("p", null, "caption"));
      root.querySelector(".figures").appendChild(section);
    }
    section.querySelector("h2").textContent = figure.title;
    section.querySelector(".caption").textContent = figure.caption;
    return document.getElementById(id);
  }

  function nextFrame() {
    return new Promise(function (resolve) { window.requestAnimationFrame(function () { resolve(); }); });
  }

  function render(root, view) {
    renderSummary(root, view);
    if (!root.querySelector(".figures")) root.appendChild(el("div", null, "figures"));
    var wanted = {};
    var draws = view.figures.map(function (figure) {
      wanted["section-" + figure.id] = true;
      var div = figureBox(root, figure);
      return Plotly.react(div, figure.data, figure.layout, {responsive: true, displaylogo: false})
        .then(function (gd) {
          gd.dataset.xaxisType = gd._fullLayout.xaxis.type;
          gd.dataset.traces = String(figure.data.length);
          return gd;
        });
    });
    root.querySelectorAll(".figures > section").forEach(function (section) {
      if (!wanted[section.id]) section.remove();
    });
    return Promise.all(draws).then(nextFrame).then(nextFrame).then(function () {
      // Two frames later the drawn plots have been laid out and painted.
      document.body.dataset.plotsDrawn = String(draws.length);
      document.body.dataset.renderMs = String(Math.round(performance.now()));
      document.body.dataset.trials = String(view.trials);
      document.body.dataset.finished = String(view.finished);
      document.body.dataset.status = view.status;
    });
  }

  window.fasthpoRender = render;

  var embedded = document.getElementById("job-view");
  if (embedded) {
    render(document.getElementById("report"), JSON.parse(embedded.textContent)).catch(function (err) {
      document.body.dataset.error = String(err);
      console.error(err);
    });
  }
})();
