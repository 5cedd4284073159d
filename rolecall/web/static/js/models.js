// The Cast page: every model the person can use, rendered by the shared picker (catalog_view.js),
// the same one the AI wing shows inside a scene.

import { createPicker } from "./catalog_view.js";

const picker = createPicker({
  sections: document.getElementById("catalog-sections"),
  starredBox: document.getElementById("starred-section"),
  status: document.getElementById("catalog-status"),
  search: document.getElementById("model-search"),
  emptyPremiere: document.getElementById("empty-premiere"),
  noProviders: document.getElementById("no-providers"),
  collapsedKey: "rolecall-collapsed-sections",
  heading: "h2",
});

picker.load();
