/* The CoE metrics page's charts: queue length per day stacked by risk tier, and the median and
   90th percentile time to decision per gate and tier. The numbers come from the page
   (json_script), so the CSP needs no inline script; the page's tables show the same numbers. */
(function () {
  "use strict";

  // Plotly renders every label as a subset of HTML (<a href>, <b>, <br>…): a business unit named
  // '<a href="//evil">x</a>' would be a link in every viewer's chart. It shows entities as the
  // characters they stand for, so escaped labels read literally. Every label goes through here.
  function text(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function texts(values) {
    return (values || []).map(text);
  }

  // The badge colours of the stylesheet, as Plotly needs them.
  var COLOURS = {
    red: "#c92a2a", amber: "#e67700", blue: "#1c7ed6", green: "#2b8a3e", grey: "#868e96",
    violet: "#7048e8", teal: "#0c8599"
  };

  function draw() {
    var source = document.getElementById("coe-metrics-data");
    if (!source || typeof window.Plotly === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var config = { displayModeBar: false, responsive: true };
    var font = { family: "inherit", size: 12 };

    var queue = document.getElementById("coe-queue-chart");
    if (queue) {
      window.Plotly.newPlot(
        queue,
        data.queue.map(function (tier) {
          return {
            type: "scatter", mode: "lines", stackgroup: "tiers", name: text(tier.tier),
            x: texts(data.days), y: tier.counts, line: { color: COLOURS[tier.colour] || COLOURS.grey, shape: "hv" }
          };
        }),
        {
          font: font, margin: { t: 10, r: 10, b: 40, l: 40 },
          yaxis: { rangemode: "tozero", title: { text: "waiting" } },
          legend: { orientation: "h", y: 1.12 }
        },
        config
      );
    }

    var decisions = document.getElementById("coe-decision-chart");
    if (decisions) {
      var labels = data.decisions.map(function (group) { return text(group.label); });
      window.Plotly.newPlot(
        decisions,
        [
          { type: "bar", name: "Median", x: labels, y: data.decisions.map(function (g) { return g.median; }), marker: { color: "#3b5bdb" } },
          { type: "bar", name: "90th percentile", x: labels, y: data.decisions.map(function (g) { return g.p90; }), marker: { color: "#bac8ff" } }
        ],
        {
          barmode: "group", font: font, margin: { t: 10, r: 10, b: 90, l: 50 },
          yaxis: { rangemode: "tozero", title: { text: "hours" } },
          legend: { orientation: "h", y: 1.12 }
        },
        config
      );
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
