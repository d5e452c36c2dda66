// Dashboard charts (Chart.js): clicking a bar opens the filtered entry list behind it.
(function () {
  // The window picker submits on change (a listener, not an inline handler: the CSP allows no inline script).
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const links = read("list-url");
  const DAY_MS = 86400000;
  const go = (params) => {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== null && v !== ""));
    window.location.href = links.list + "?" + query.toString();
  };

  const days = read("per-day-data");
  const dayCanvas = document.getElementById("per-day-chart");
  if (dayCanvas && days.length) {
    new Chart(dayCanvas, {
      type: "bar",
      data: {
        labels: days.map((d) => new Date(d.day_ms).toISOString().slice(0, 10)),
        datasets: [
          { label: "applied", data: days.map((d) => d.applied), backgroundColor: "#4caf7d", stack: "s" },
          { label: "rejected", data: days.map((d) => d.rejected), backgroundColor: "#d9534f", stack: "s" },
        ],
      },
      options: {
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
        onClick: (event, elements) => {
          if (!elements.length) return;
          const { index, datasetIndex } = elements[0];
          const day = days[index].day_ms;
          go({ status: datasetIndex === 0 ? "applied" : "rejected", since_ms: day, until_ms: day + DAY_MS });
        },
      },
    });
  }

  const axes = read("axis-data");
  const axisCanvas = document.getElementById("axis-chart");
  if (axisCanvas && axes.length) {
    new Chart(axisCanvas, {
      type: "bar",
      data: {
        labels: axes.map((a) => a.axis),
        datasets: [{ label: "deny rate %", data: axes.map((a) => a.rate), backgroundColor: "#d9534f" }],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        scales: { x: { beginAtZero: true, suggestedMax: 10 } },
        onClick: (event, elements) => {
          if (!elements.length) return;
          go({ denied_axis: axes[elements[0].index].axis, since_ms: links.since });
        },
      },
    });
  }
})();
