// The game screen: output pane, vitals bar, side panel, command line.
// All server and player text is inserted as text nodes (see dom.js).

import { $, clear, el } from "./dom.js";
import { GameSocket } from "./socket.js";

const MAX_LINES = 2000; // output entries kept before the oldest are dropped
const HISTORY_MAX = 100;
const HISTORY_KEY = "kadath.history";
const PIN_SLACK_PX = 32; // "at the bottom" tolerance for auto-scroll

const CHANNELS = new Set(["say", "emote", "whisper", "system", "combat", "broadcast", "npc"]);

// ---- Command history (persisted across reloads) ----------------------------

function loadHistory() {
  try {
    const saved = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
    return Array.isArray(saved) ? saved.filter((s) => typeof s === "string").slice(-HISTORY_MAX) : [];
  } catch {
    return [];
  }
}

function saveHistory(history) {
  try {
    localStorage.setItem(HISTORY_KEY, JSON.stringify(history.slice(-HISTORY_MAX)));
  } catch {
    /* storage full or disabled: history just won't persist */
  }
}

/** A safe class-name fragment from a server-supplied word. */
function slug(word) {
  return String(word ?? "").toLowerCase().replace(/[^a-z0-9_-]/g, "");
}

/**
 * Wire up the game screen.
 *   onLeave()        – the player left (or must leave) the game
 *   onAuthFailed()   – the socket was closed with 4401
 * Returns { start(token, characterName), stop() }.
 */
export function initGame({ onLeave, onAuthFailed }) {
  const output = $("output");
  const input = $("command-input");
  const form = $("command-form");
  const scrollLatest = $("scroll-latest");
  const banner = $("conn-banner");
  const bannerText = $("conn-text");
  const retryButton = $("conn-retry");
  const overlay = $("game-overlay");
  const sidePanel = $("side-panel");
  const panelToggle = $("panel-toggle");

  let socket = null;
  let characterName = "";
  let pinned = true; // auto-scroll while the user hasn't scrolled up
  let history = loadHistory();
  let historyIndex = history.length;
  let draft = "";
  const pendingEchoes = new Map(); // command id -> echo line, until its reply
  let vitals = {};
  let countdownTimer = null;
  let unread = 0;
  let lost = false; // connection dropped and not yet welcomed back
  let kickText = ""; // the text of a "kicked" event, shown when the socket closes
  // The welcome frame already prints the room; a `room` frame for the same
  // room arriving right after it (before any command) only refreshes the panel.
  let suppressRoom = null; // { id, until }

  const finePointer = window.matchMedia("(pointer: fine)").matches;

  // ---- Output --------------------------------------------------------------

  function atBottom() {
    return output.scrollHeight - output.scrollTop - output.clientHeight <= PIN_SLACK_PX;
  }

  output.addEventListener("scroll", () => {
    pinned = atBottom();
    if (pinned) scrollLatest.hidden = true;
  });

  function scrollToBottom() {
    output.scrollTop = output.scrollHeight;
    pinned = true;
    scrollLatest.hidden = true;
  }

  scrollLatest.addEventListener("click", () => {
    scrollToBottom();
    focusInput();
  });

  // Entries are queued and written once per animation frame: a burst of
  // hundreds of frames then costs one layout instead of hundreds.
  let queue = [];
  let flushScheduled = false;

  /** Queue one entry for the output; returns the node (already built). */
  function addEntry(node) {
    queue.push(node);
    if (queue.length > MAX_LINES) queue = queue.slice(-MAX_LINES);
    if (document.hidden) {
      unread += 1;
      document.title = `(${unread}) Kadath — ${characterName}`;
    }
    if (!flushScheduled) {
      flushScheduled = true;
      // requestAnimationFrame doesn't run in background tabs; a timer does (throttled).
      if (document.hidden) setTimeout(flush, 50);
      else requestAnimationFrame(flush);
    }
    return node;
  }

  function flush() {
    flushScheduled = false;
    if (!queue.length) return;
    const stick = pinned;
    const fragment = document.createDocumentFragment();
    for (const node of queue) fragment.appendChild(node);
    queue = [];
    output.appendChild(fragment);

    // Trim the oldest entries: measure first, then remove (one layout only).
    const excess = output.childElementCount - MAX_LINES;
    if (excess > 0) {
      const doomed = Array.from(output.children).slice(0, excess);
      const removedHeight = stick ? 0 : doomed.reduce((h, n) => h + n.offsetHeight, 0);
      for (const n of doomed) n.remove();
      // Keep what the reader is looking at in place despite the trimming.
      if (removedHeight) output.scrollTop -= removedHeight;
    }
    if (stick) output.scrollTop = output.scrollHeight;
    else scrollLatest.hidden = false;
  }

  /** A plain line of text with the given classes. */
  function line(classes, text) {
    return addEntry(el("div", { class: `line ${classes}` }, text ?? ""));
  }

  function renderRoom(room, text) {
    // The server's text opens with the room's name (for plain-text clients); the heading shows it.
    const title = room?.name ?? "";
    if (text && title && text.startsWith(`${title}\n`)) text = text.slice(title.length + 1);
    const block = el(
      "div",
      { class: "line room-block" },
      el("div", { class: "room-title" }, room?.name ?? "Somewhere"),
    );
    if (text) block.appendChild(el("div", { class: "room-text" }, text));
    addEntry(block);
  }

  /** Room block from the welcome frame's room object (it has no rendered text). */
  function renderRoomFromObject(room) {
    const parts = [];
    if (room.description) parts.push(room.description);
    const exits = Array.isArray(room.exits) ? room.exits : [];
    parts.push(exits.length ? `Exits: ${exits.join(", ")}` : "There is no obvious way out.");
    renderRoom(room, parts.join("\n\n"));
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && characterName) {
      unread = 0;
      document.title = `Kadath — ${characterName}`;
    }
  });

  // ---- Vitals --------------------------------------------------------------

  function setMeter(prefix, value, max) {
    const fill = $(`${prefix}-fill`);
    const meter = $(`${prefix}-meter`);
    const text = $(`${prefix}-text`);
    const has = Number.isFinite(value) && Number.isFinite(max) && max > 0;
    const ratio = has ? Math.max(0, Math.min(1, value / max)) : 0;
    fill.style.width = `${ratio * 100}%`;
    text.textContent = has ? `${value} / ${max}` : "–";
    meter.setAttribute("aria-valuemax", String(has ? max : 1));
    meter.setAttribute("aria-valuenow", String(has ? value : 0));
    meter.classList.toggle("meter-low", has && ratio <= 0.25);
  }

  function updateVitals(patch) {
    const previousLevel = vitals.level;
    vitals = { ...vitals, ...patch };
    setMeter("health", Number(vitals.health), Number(vitals.max_health));
    setMeter("lucidity", Number(vitals.lucidity), Number(vitals.max_lucidity));
    $("vitals-level").textContent = vitals.level ?? "–";
    $("vitals-xp").textContent = vitals.experience ?? "–";
    $("combat-indicator").hidden = !vitals.in_combat;
    document.body.classList.toggle("in-combat", Boolean(vitals.in_combat));
    if (previousLevel !== undefined && vitals.level > previousLevel) flash($("vitals-level"));
  }

  function flash(node) {
    node.classList.remove("flash");
    void node.offsetWidth; // restart the CSS animation
    node.classList.add("flash");
  }

  // ---- Side panel ----------------------------------------------------------

  function fillList(list, names, emptyText, itemClass = "") {
    clear(list);
    if (!names.length) {
      list.appendChild(el("li", { class: "empty" }, emptyText));
      return;
    }
    for (const name of names) list.appendChild(el("li", { class: itemClass }, name));
  }

  function renderExits(container, exits) {
    clear(container);
    if (!exits.length) {
      container.appendChild(el("span", { class: "empty" }, "None"));
      return;
    }
    for (const dir of exits) {
      container.appendChild(
        el(
          "button",
          {
            type: "button",
            class: "exit-button",
            title: `go ${dir}`,
            onclick: () => {
              sendCommand(`go ${dir}`);
              if (finePointer) focusInput();
            },
          },
          dir,
        ),
      );
    }
  }

  function renderPanel(room) {
    if (!room || typeof room !== "object") return;
    currentRoom = room;
    $("room-name").textContent = room.name ?? "";
    $("room-zone").textContent = room.zone ?? "";
    const exits = Array.isArray(room.exits) ? room.exits : [];
    renderExits($("exits"), exits);
    renderExits($("exits-compact"), exits);
    const me = characterName.toLowerCase();
    const others = (room.players ?? []).filter((p) => String(p).toLowerCase() !== me);
    fillList($("players-here"), others, "No one else.");
    fillList($("npcs-here"), room.npcs ?? [], "Nothing stirs.");
    const items = $("items-here");
    clear(items);
    const things = [
      ...(room.items ?? []).map((name) => ({ name, cls: "item" })),
      ...(room.containers ?? []).map((name) => ({ name, cls: "container" })),
    ];
    if (!things.length) items.appendChild(el("li", { class: "empty" }, "Nothing of note."));
    for (const t of things) items.appendChild(el("li", { class: t.cls }, t.name));
  }

  // On narrow screens the side panel is a drawer.
  function setPanelOpen(open) {
    sidePanel.classList.toggle("open", open);
    panelToggle.setAttribute("aria-expanded", String(open));
  }
  panelToggle.addEventListener("click", () => setPanelOpen(!sidePanel.classList.contains("open")));
  $("panel-close").addEventListener("click", () => setPanelOpen(false));
  // Choosing an exit in the drawer closes it, so the player sees where they went.
  sidePanel.addEventListener("click", (event) => {
    if (event.target instanceof HTMLElement && event.target.closest(".exit-button")) setPanelOpen(false);
  });

  // ---- Connection banner & overlay ------------------------------------------

  function showBanner(text, { retry = false } = {}) {
    bannerText.textContent = text;
    retryButton.hidden = !retry;
    banner.hidden = false;
  }

  function hideBanner() {
    clearInterval(countdownTimer);
    countdownTimer = null;
    banner.hidden = true;
  }

  retryButton.addEventListener("click", () => socket?.retryNow());

  function showOverlay(title, text, { reconnect }) {
    hideBanner();
    $("overlay-title").textContent = title;
    $("overlay-text").textContent = text;
    $("overlay-reconnect").hidden = !reconnect;
    overlay.hidden = false;
    (reconnect ? $("overlay-reconnect") : $("overlay-back")).focus();
  }

  $("overlay-back").addEventListener("click", () => {
    overlay.hidden = true;
    onLeave();
  });
  $("overlay-reconnect").addEventListener("click", () => {
    overlay.hidden = true;
    showBanner("Connecting…");
    socket?.connect();
    focusInput();
  });

  // ---- Frames ----------------------------------------------------------------

  let currentRoom = null; // the last room shown in the side panel

  /** Keep the side panel's occupants current as people and creatures come and go. */
  function updateOccupants(arrived, name, isNpc) {
    if (!currentRoom) return;
    const key = isNpc ? "npcs" : "players";
    const names = [...(currentRoom[key] ?? [])];
    if (arrived) names.push(name);
    else {
      const at = names.indexOf(name);
      if (at >= 0) names.splice(at, 1);
    }
    renderPanel({ ...currentRoom, [key]: names });
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case "welcome": {
        hideBanner();
        if (lost) line("system conn", "The thread is picked up again.");
        lost = false;
        pendingEchoes.clear();
        const player = frame.player ?? {};
        if (player.name) characterName = player.name;
        $("vitals-name").textContent = characterName;
        $("vitals-profession").textContent = player.profession ?? "";
        document.title = `Kadath — ${characterName}`;
        vitals = {};
        updateVitals({
          health: player.health,
          max_health: player.max_health,
          lucidity: player.lucidity,
          max_lucidity: player.max_lucidity,
          experience: player.experience,
          level: player.level,
          in_combat: false,
        });
        line("system welcome", `You are ${characterName}.`);
        if (frame.room) {
          renderPanel(frame.room);
          renderRoomFromObject(frame.room);
          suppressRoom = { id: frame.room.id, until: Date.now() + 1500 };
        }
        break;
      }
      case "room": {
        renderPanel(frame.room);
        const dup =
          suppressRoom &&
          frame.room?.id === suppressRoom.id &&
          Date.now() < suppressRoom.until;
        suppressRoom = null;
        if (!dup) renderRoom(frame.room, frame.text);
        break;
      }
      case "message": {
        const channel = CHANNELS.has(frame.channel) ? frame.channel : "other";
        line(`msg ch-${channel}`, frame.text);
        break;
      }
      case "channel": {
        // [ooc] Name: text — every part a text node, never markup.
        const name = slug(frame.channel) || "other";
        addEntry(
          el(
            "div",
            { class: `line chan chan-${name}` },
            el("span", { class: "chan-tag" }, `[${frame.channel ?? "?"}]`),
            " ",
            el("span", { class: "chan-from" }, `${frame.from ?? "someone"}:`),
            " ",
            frame.text ?? "",
          ),
        );
        break;
      }
      case "event": {
        line(`event ev-${slug(frame.event)}`, frame.text);
        if ((frame.event === "arrived" || frame.event === "left") && frame.name) {
          updateOccupants(frame.event === "arrived", frame.name, Boolean(frame.npc));
        }
        if (frame.event === "kicked") kickText = frame.text || "";
        if (frame.event === "level_up") flash($("vitals-level"));
        break;
      }
      case "state":
        if (frame.vitals) updateVitals(frame.vitals);
        break;
      case "reply": {
        const echo = pendingEchoes.get(frame.re);
        if (echo) {
          echo.classList.remove("pending");
          if (frame.ok === false) echo.classList.add("failed");
          pendingEchoes.delete(frame.re);
        }
        if (frame.text) line(frame.ok === false ? "reply reply-error" : "reply", frame.text);
        break;
      }
      case "error":
        line(`error err-${slug(frame.code)}`, frame.text || `Error: ${frame.code ?? "unknown"}`);
        break;
      case "pong":
        break;
      default:
        break; // unknown frame types are ignored so the server can add new ones
    }
  }

  // ---- Commands & input ------------------------------------------------------

  function focusInput() {
    if (!overlay.hidden) return;
    input.focus({ preventScroll: true });
  }

  function sendCommand(text) {
    suppressRoom = null;
    if (!socket || !socket.connected) {
      line("reply reply-error", "Not connected — the command was not sent.");
      return false;
    }
    const id = socket.sendCommand(text);
    if (!id) return false;
    const echo = line("echo pending", `› ${text}`);
    pendingEchoes.set(id, echo);
    // Sending a command means the user wants to see what happens.
    scrollToBottom();
    return true;
  }

  function remember(text) {
    if (history[history.length - 1] !== text) history.push(text);
    if (history.length > HISTORY_MAX) history = history.slice(-HISTORY_MAX);
    historyIndex = history.length;
    draft = "";
    saveHistory(history);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (sendCommand(text)) {
      remember(text);
      input.value = "";
    }
    focusInput();
  });

  input.addEventListener("keydown", (event) => {
    if (event.isComposing) return;
    switch (event.key) {
      case "ArrowUp":
        if (!history.length || historyIndex === 0) return;
        if (historyIndex === history.length) draft = input.value;
        historyIndex -= 1;
        input.value = history[historyIndex];
        break;
      case "ArrowDown":
        if (historyIndex >= history.length) return;
        historyIndex += 1;
        input.value = historyIndex === history.length ? draft : history[historyIndex];
        break;
      case "PageUp":
        output.scrollTop -= output.clientHeight * 0.9;
        break;
      case "PageDown":
        output.scrollTop += output.clientHeight * 0.9;
        break;
      case "Escape":
        setPanelOpen(false);
        input.value = "";
        historyIndex = history.length;
        break;
      default:
        return;
    }
    event.preventDefault();
    // Put the caret at the end after recalling history.
    const end = input.value.length;
    input.setSelectionRange(end, end);
  });

  // Clicking the output (without selecting text) returns focus to the input.
  output.addEventListener("mouseup", () => {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed) focusInput();
  });

  // Typing anywhere on the game screen goes to the command line.
  document.addEventListener("keydown", (event) => {
    if ($("screen-game").hidden || !overlay.hidden) return;
    if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, button, dialog")) return;
    focusInput();
  });

  $("leave-button").addEventListener("click", () => onLeave());

  // ---- Lifecycle ---------------------------------------------------------------

  function reset() {
    queue = [];
    clear(output);
    pinned = true;
    scrollLatest.hidden = true;
    overlay.hidden = true;
    setPanelOpen(false);
    pendingEchoes.clear();
    vitals = {};
    unread = 0;
    updateVitals({});
    renderPanel({ name: "", zone: "", exits: [], players: [], npcs: [], items: [], containers: [] });
    input.value = "";
    historyIndex = history.length;
  }

  return {
    start(token, name) {
      this.stop();
      reset();
      characterName = name;
      lost = false;
      kickText = "";
      $("vitals-name").textContent = name;
      $("vitals-profession").textContent = "";
      document.title = `Kadath — ${name}`;
      line("system", `You step out as ${name}…`);
      showBanner("Connecting…");

      socket = new GameSocket({
        token,
        player: name,
        handlers: {
          onFrame: handleFrame,
          onOpen: ({ reconnect }) => {
            kickText = "";
            if (reconnect) showBanner("Reconnected — waiting for the world…");
          },
          onReconnecting: ({ delayMs }) => {
            if (!lost) line("system conn", "The connection was lost.");
            lost = true;
            let remaining = Math.round(delayMs / 1000);
            const render = () =>
              showBanner(`Connection lost — reconnecting in ${remaining}s…`, { retry: true });
            render();
            clearInterval(countdownTimer);
            countdownTimer = setInterval(() => {
              remaining -= 1;
              if (remaining <= 0) {
                clearInterval(countdownTimer);
                countdownTimer = null;
                showBanner("Reconnecting…");
              } else {
                render();
              }
            }, 1000);
          },
          onAuthFailed: () => {
            hideBanner();
            onAuthFailed();
          },
          onReplaced: () => {
            line("system conn", "You connected from elsewhere.");
            showOverlay(
              "You connected from elsewhere",
              `${characterName} was claimed by a newer session. Only one can walk the world at a time.`,
              { reconnect: true },
            );
          },
          onStopped: ({ reason, error }) => {
            const text = error || kickText || reason || "The server ended your session.";
            line("system conn", "The connection was closed.");
            showOverlay("Disconnected", text, { reconnect: Boolean(error) });
          },
        },
      });
      socket.connect();
      focusInput();
    },

    stop() {
      if (socket) socket.close();
      socket = null;
      hideBanner();
      overlay.hidden = true;
      document.body.classList.remove("in-combat");
      document.title = "Kadath";
    },
  };
}
