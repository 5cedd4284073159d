// Small shared pieces for characters: avatar badges (colour + initials) and "3 minutes ago".

/** Up to two initials, the server's rule: the first letters of the first two words ("Captain Nemo" -> "CN"). */
export function initialsOf(name) {
  const words = (name || "").split(/[\s_.-]+/).filter(Boolean);
  return words.slice(0, 2).map((w) => [...w][0]).join("").toUpperCase();
}

/** An avatar badge for {name, initials, avatar_color}; the colour is set through the CSSOM (CSP). */
export function avatar(character, { size = "" } = {}) {
  const node = document.createElement("span");
  node.className = `avatar${size ? ` avatar--${size}` : ""}`;
  node.textContent = character.initials || initialsOf(character.name) || "?";
  node.setAttribute("aria-hidden", "true");
  if (character.avatar_color) node.style.setProperty("--avatar", character.avatar_color);
  return node;
}

const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "just now", "5 minutes ago", "yesterday", … for an ISO timestamp. */
export function relativeTime(iso) {
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return "just now";
}
