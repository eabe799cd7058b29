// Small DOM helpers. Every piece of text goes in through text nodes, never
// through innerHTML, so server- or player-supplied strings can never become markup.

/** Shorthand for document.getElementById that fails loudly on a typo. */
export function $(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`missing element #${id}`);
  return node;
}

/**
 * Build an element.
 *   el("li", { class: "x", dataset: { id: 3 }, onclick: fn }, "text", childNode)
 * Strings (and numbers) among the children become text nodes.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, ...children);
  return node;
}

/** Append children (strings become text nodes; null/undefined/false are skipped). */
export function append(parent, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Remove every child of a node. */
export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** Show a message in an error/notice paragraph, or hide it when text is empty. */
export function setMessage(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}
