// The Cast page's first catalog request, started while the page's modules are still loading
// (a classic async script runs as soon as it arrives; the module graph takes several round
// trips more). catalog_view.js takes the answer from window.rolecallCatalogFirst when the URL
// is the one it would ask for, and asks itself otherwise (or if this script came too late).
(() => {
  let collapsed = [];
  try { collapsed = JSON.parse(localStorage.getItem("rolecall-collapsed-sections") || "[]"); } catch { /* none */ }
  let skip = "";
  for (const id of collapsed) {  // as catalog_view.js idList(): cut to what the API takes
    const next = skip ? `${skip},${encodeURIComponent(id)}` : encodeURIComponent(id);
    if (next.length > 3900) break;
    skip = next;
  }
  const url = `/api/catalog?view=compact&first=3${skip ? `&skip=${skip}` : ""}`;
  window.rolecallCatalogFirst ??= { url, data: fetch(url, { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : null)).catch(() => null) };
})();
