/* Cost charts. The page puts the numbers in a json_script element ("cost-chart-data"):
   {charts: [{element, type: "bar" | "line", stacked, currency, series: [{name, x, y}]}]}.
   Amounts arrive as decimal strings (money is Decimal until the JSON boundary); Plotly reads
   them as numbers. No inline script, so the Content-Security-Policy needs no exception. The
   tables on each page show the same figures for keyboards and screen readers. */
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

  function draw() {
    var source = document.getElementById("cost-chart-data");
    if (!source || typeof window.Plotly === "undefined") {
      return;
    }
    var data = JSON.parse(source.textContent);
    var config = { displayModeBar: false, responsive: true };
    (data.charts || []).forEach(function (chart) {
      var element = document.getElementById(chart.element);
      if (!element || !chart.series || chart.series.length === 0) {
        return;
      }
      var traces = chart.series.map(function (series) {
        var trace = {
          name: text(series.name),
          x: texts(series.x),
          y: series.y.map(Number),
          type: chart.type === "line" ? "scatter" : "bar",
          hovertemplate: "%{x}: %{y:,.2f}" + (chart.currency ? " " + text(chart.currency) : "") + "<extra>%{fullData.name}</extra>"
        };
        if (chart.type === "line") {
          trace.mode = "lines+markers";
        }
        return trace;
      });
      window.Plotly.newPlot(
        element,
        traces,
        {
          barmode: chart.stacked ? "stack" : "group",
          font: { family: "inherit", size: 12 },
          margin: { t: 10, r: 10, b: 40, l: 60 },
          yaxis: { rangemode: "tozero", title: text(chart.currency || "") },
          xaxis: { type: "category" },
          legend: { orientation: "h", y: -0.2 }
        },
        config
      );
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
