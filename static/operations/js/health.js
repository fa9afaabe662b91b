/* Health sparklines on the use case's Health tab. The page puts the points in a json_script
   element ("health-chart-data"): {charts: [{element, metric, x: [iso times], y: [decimal strings],
   minimum, maximum, breached}]}. Values are decimal strings until here; Plotly reads numbers.
   The threshold's bounds are dashed lines. No inline script, so the Content-Security-Policy
   needs no exception; the table beside each sparkline has the latest value in words. */
(function () {
  "use strict";

  var charts = window.PropylonCharts;
  var text = charts.text;
  var colours = charts.colours;

  function bound(value, x) {
    if (value === "" || value === null || value === undefined || x.length === 0) {
      return null;
    }
    return {
      x: [x[0], x[x.length - 1]],
      y: [Number(value), Number(value)],
      type: "scatter",
      mode: "lines",
      line: { color: colours.grey, width: 1, dash: "dot" },
      hoverinfo: "skip"
    };
  }

  function draw(data) {
    (data.charts || []).forEach(function (chart) {
      var element = document.getElementById(chart.element);
      if (!element || !chart.x || chart.x.length === 0) {
        return;
      }
      var traces = [
        {
          name: text(chart.metric),
          x: chart.x,
          y: chart.y.map(Number),
          type: "scatter",
          mode: chart.x.length > 1 ? "lines" : "markers",
          line: { color: chart.breached ? colours.red : colours.blue, width: 1.5 },
          marker: { color: chart.breached ? colours.red : colours.blue, size: 4 },
          hovertemplate: "%{x|%Y-%m-%d %H:%M}: %{y}<extra></extra>"
        }
      ];
      [bound(chart.minimum, chart.x), bound(chart.maximum, chart.x)].forEach(function (trace) {
        if (trace) {
          traces.push(trace);
        }
      });
      window.Plotly.newPlot(
        element,
        traces,
        {
          font: charts.font,
          height: 48,
          width: 180,
          margin: { t: 4, r: 4, b: 4, l: 4 },
          showlegend: false,
          xaxis: { visible: false, type: "date" },
          yaxis: { visible: false },
          paper_bgcolor: "rgba(0,0,0,0)",
          plot_bgcolor: "rgba(0,0,0,0)"
        },
        { displayModeBar: false, responsive: false, staticPlot: false }
      );
    });
  }

  charts.onData("health-chart-data", draw);
})();
