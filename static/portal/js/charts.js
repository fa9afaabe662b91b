/* What every chart script shares: escaping labels, Plotly's config and font, the badge colours,
   and reading the numbers a page puts in a json_script element (no inline script, so the
   Content-Security-Policy needs no exception). Load it after Plotly and before the page's own
   chart script; both with `defer`, so they run in order. */
window.PropylonCharts = (function () {
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

  // Call draw(data) with the page's numbers once the document is ready. Pages without the data
  // element (or without Plotly) draw nothing: their tables show the same figures.
  function onData(elementId, draw) {
    function run() {
      var source = document.getElementById(elementId);
      if (!source || typeof window.Plotly === "undefined") {
        return;
      }
      draw(JSON.parse(source.textContent));
    }
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", run);
    } else {
      run();
    }
  }

  return {
    text: text,
    texts: texts,
    onData: onData,
    config: { displayModeBar: false, responsive: true },
    font: { family: "inherit", size: 12 },
    // The badge colours of the stylesheet, as Plotly needs them.
    colours: {
      red: "#c92a2a", amber: "#e67700", blue: "#1c7ed6", green: "#2b8a3e", grey: "#868e96",
      violet: "#7048e8", teal: "#0c8599"
    }
  };
})();
