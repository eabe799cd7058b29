// The character roster and the character-creation form.

import { api, ApiError } from "./api.js";
import { $, clear, el, setMessage } from "./dom.js";

// The six attributes sent for point buy, in display order.
export const STATS = ["strength", "dexterity", "constitution", "intelligence", "wisdom", "charisma"];

// Classic 27-point buy: every attribute starts at 8 and may go up to 15.
export const POINT_BUY_BUDGET = 27;
export const STAT_MIN = 8;
export const STAT_MAX = 15;
const POINT_COST = { 8: 0, 9: 1, 10: 2, 11: 3, 12: 4, 13: 5, 14: 7, 15: 9 };

export function pointCost(value) {
  return POINT_COST[value] ?? Infinity;
}

function statLabel(stat) {
  return stat.slice(0, 3).toUpperCase();
}

function capitalize(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "STR 12, INT 13" for a profession's requirements, or "" when it has none. */
function requirementText(requirements) {
  const entries = Object.entries(requirements || {});
  return entries.map(([stat, min]) => `${statLabel(stat)} ${min}`).join(", ");
}

/**
 * Wire up the characters screen.
 *   onPlay(character) – the player picked a character
 *   onLogout()        – the player logged out
 * Returns { show(user) }.
 */
export function initCharacters({ onPlay, onLogout }) {
  const roster = $("roster");
  const rosterEmpty = $("roster-empty");
  const rosterError = $("roster-error");
  const form = $("create-form");
  const professionList = $("profession-list");
  const pointBuy = $("point-buy");
  const statRows = $("stat-rows");
  const budgetNode = $("budget-remaining");
  const createError = $("create-error");
  const createSubmit = $("create-submit");
  const reqWarning = $("requirements-warning");
  const dialog = $("confirm-dialog");

  let professions = null; // cached after the first successful load
  const stats = Object.fromEntries(STATS.map((s) => [s, STAT_MIN]));
  const statNodes = {}; // stat -> { value, minus, plus }

  $("logout-button").addEventListener("click", () => onLogout());

  // ---- Roster --------------------------------------------------------------

  function renderRoster(characters) {
    clear(roster);
    rosterEmpty.hidden = characters.length > 0;
    for (const ch of characters) {
      const maxHealth = Math.max(1, Number(ch.max_health) || 1);
      const health = Math.max(0, Number(ch.health) || 0);
      const fill = el("span", { class: "mini-fill" });
      fill.style.width = `${Math.min(100, (health / maxHealth) * 100)}%`;
      const item = el(
        "li",
        { class: "character", dataset: { id: ch.id, name: ch.name } },
        el(
          "div",
          { class: "character-main" },
          el("span", { class: "character-name" }, ch.name),
          el(
            "span",
            { class: "character-meta" },
            `Level ${ch.level} ${ch.profession ?? ""}`.trim(),
            ch.room_name ? el("span", { class: "character-where" }, ` · ${ch.room_name}`) : null,
          ),
          el(
            "span",
            { class: "mini-bar", title: `Health ${health} / ${maxHealth}` },
            el("span", { class: "mini-track" }, fill),
            el("span", { class: "mini-text" }, `${health} / ${maxHealth}`),
          ),
        ),
        el(
          "div",
          { class: "character-actions" },
          el(
            "button",
            { type: "button", class: "btn btn-primary btn-small play-button", onclick: () => onPlay(ch) },
            "Play",
          ),
          el(
            "button",
            {
              type: "button",
              class: "btn btn-ghost btn-small delete-button",
              "aria-label": `Delete ${ch.name}`,
              onclick: () => deleteCharacter(ch),
            },
            "Delete",
          ),
        ),
      );
      roster.appendChild(item);
    }
  }

  async function loadRoster() {
    setMessage(rosterError, "");
    try {
      const characters = await api.players();
      renderRoster(Array.isArray(characters) ? characters : []);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return; // handled globally
      setMessage(rosterError, err.message || "Could not load your investigators.");
    }
  }

  /** A modal yes/no built on <dialog> (window.confirm is ugly and blocks tests). */
  function confirmAction(text, okLabel) {
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.showModal();
      $("confirm-cancel").focus();
    });
  }

  async function deleteCharacter(ch) {
    const ok = await confirmAction(
      `Delete ${ch.name} for ever? Their memories, their belongings and their sanity will be lost.`,
      `Delete ${ch.name}`,
    );
    if (!ok) return;
    setMessage(rosterError, "");
    try {
      await api.deletePlayer(ch.id);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) setMessage(rosterError, err.message);
      return;
    }
    await loadRoster();
  }

  // ---- Professions ---------------------------------------------------------

  function selectedProfession() {
    const checked = professionList.querySelector("input[name=profession]:checked");
    if (!checked || !professions) return null;
    return professions.find((p) => String(p.id) === checked.value) ?? null;
  }

  function renderProfessions() {
    clear(professionList);
    for (const [index, p] of professions.entries()) {
      const reqs = requirementText(p.requirements);
      professionList.appendChild(
        el(
          "label",
          { class: "profession" },
          el("input", {
            type: "radio",
            name: "profession",
            value: p.id,
            required: true,
            checked: index === 0,
            onchange: updatePointBuy,
          }),
          el(
            "span",
            { class: "profession-body" },
            el("span", { class: "profession-name" }, p.name),
            el("span", { class: "profession-desc" }, p.description ?? ""),
            reqs ? el("span", { class: "profession-reqs" }, `Requires ${reqs}`) : null,
          ),
        ),
      );
    }
  }

  async function loadProfessions() {
    const errorNode = $("profession-error");
    if (professions) return;
    setMessage(errorNode, "");
    try {
      const list = await api.professions();
      professions = Array.isArray(list) ? list : [];
      renderProfessions();
      updatePointBuy();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) {
        setMessage(errorNode, err.message || "Could not load the professions.");
      }
    }
  }

  // ---- Point buy -----------------------------------------------------------

  function spent() {
    return STATS.reduce((sum, s) => sum + pointCost(stats[s]), 0);
  }

  function buildStatRows() {
    for (const stat of STATS) {
      const value = el("output", { class: "stat-value", "aria-live": "polite" }, String(stats[stat]));
      const minus = el(
        "button",
        { type: "button", class: "btn btn-ghost btn-step", "aria-label": `Lower ${stat}` },
        "−",
      );
      const plus = el(
        "button",
        { type: "button", class: "btn btn-ghost btn-step", "aria-label": `Raise ${stat}` },
        "+",
      );
      const cost = el("span", { class: "stat-cost" });
      minus.addEventListener("click", () => changeStat(stat, -1));
      plus.addEventListener("click", () => changeStat(stat, +1));
      statNodes[stat] = { value, minus, plus, cost, row: null };
      const row = el(
        "div",
        { class: "stat-row", dataset: { stat } },
        el("span", { class: "stat-name", title: capitalize(stat) }, capitalize(stat)),
        minus,
        value,
        plus,
        cost,
      );
      statNodes[stat].row = row;
      statRows.appendChild(row);
    }
  }

  function changeStat(stat, delta) {
    const next = stats[stat] + delta;
    if (next < STAT_MIN || next > STAT_MAX) return;
    const newSpent = spent() - pointCost(stats[stat]) + pointCost(next);
    if (newSpent > POINT_BUY_BUDGET) return;
    stats[stat] = next;
    updatePointBuy();
  }

  function method() {
    return form.querySelector("input[name=stats_method]:checked")?.value ?? "3d6";
  }

  /** Refresh the budget, the +/- buttons and the requirement warnings. */
  function updatePointBuy() {
    const isPointBuy = method() === "point_buy";
    pointBuy.hidden = !isPointBuy;
    $("dice-note").hidden = isPointBuy;

    const remaining = POINT_BUY_BUDGET - spent();
    budgetNode.textContent = String(remaining);
    budgetNode.classList.toggle("budget-over", remaining < 0);

    const reqs = selectedProfession()?.requirements ?? {};
    const unmet = [];
    for (const stat of STATS) {
      const nodes = statNodes[stat];
      const value = stats[stat];
      nodes.value.textContent = String(value);
      nodes.cost.textContent = `${pointCost(value)} pt`;
      nodes.minus.disabled = value <= STAT_MIN;
      nodes.plus.disabled =
        value >= STAT_MAX || spent() - pointCost(value) + pointCost(value + 1) > POINT_BUY_BUDGET;
      const need = reqs[stat];
      const short = need !== undefined && value < need;
      nodes.row.classList.toggle("stat-short", short);
      nodes.row.classList.toggle("stat-required", need !== undefined);
      nodes.row.title = need !== undefined ? `${capitalize(stat)}: at least ${need} required` : "";
      if (short) unmet.push(`${capitalize(stat)} ${need}`);
    }
    setMessage(
      reqWarning,
      isPointBuy && unmet.length ? `This profession requires ${unmet.join(", ")}.` : "",
    );
  }

  buildStatRows();
  for (const radio of form.querySelectorAll("input[name=stats_method]")) {
    radio.addEventListener("change", updatePointBuy);
  }
  updatePointBuy();

  // ---- Create --------------------------------------------------------------

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setMessage(createError, "");
    const name = $("create-name").value.trim();
    const profession = selectedProfession();
    if (!name) {
      setMessage(createError, "Every investigator needs a name.");
      return;
    }
    if (!profession) {
      setMessage(createError, "Choose a profession.");
      return;
    }
    const statsMethod = method();
    if (statsMethod === "point_buy" && spent() > POINT_BUY_BUDGET) {
      setMessage(createError, "You have spent more than 27 points.");
      return;
    }
    const payload = {
      name,
      profession_id: Number(profession.id),
      stats_method: statsMethod,
      stats: statsMethod === "point_buy" ? { ...stats } : null,
    };
    createSubmit.disabled = true;
    try {
      const created = await api.createPlayer(payload);
      $("create-name").value = "";
      await loadRoster();
      // Highlight the newcomer in the roster.
      const createdName = created?.name ?? name;
      for (const li of roster.children) {
        if (li.dataset.name === createdName) {
          li.classList.add("character-new");
          li.querySelector(".play-button")?.focus();
        }
      }
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) {
        setMessage(createError, err.message || "Could not create the investigator.");
      }
    } finally {
      createSubmit.disabled = false;
    }
  });

  return {
    async show(user) {
      $("account-name").textContent = user?.username ?? "";
      $("account-admin").hidden = !user?.is_admin;
      await Promise.all([loadRoster(), loadProfessions()]);
    },
  };
}
