// Entry point: decides which screen is shown and hands control between them.
//
//   loading ──token ok──▶ characters ──play──▶ game
//      │                     ▲   │               │
//      └──no/bad token──▶ auth ◀─┴──logout / 401 / 4401

import { api, ApiError, getToken, onUnauthorized, setToken } from "./api.js";
import { initAuth } from "./auth.js";
import { initCharacters } from "./characters.js";
import { $ } from "./dom.js";
import { initGame } from "./game.js";

// The character being played in this tab, so a reload drops straight back in.
const PLAYING_KEY = "kadath.playing";

function playing(name) {
  try {
    if (name === undefined) return sessionStorage.getItem(PLAYING_KEY);
    if (name) sessionStorage.setItem(PLAYING_KEY, name);
    else sessionStorage.removeItem(PLAYING_KEY);
  } catch {
    /* sessionStorage unavailable */
  }
  return null;
}

const SCREENS = ["loading", "auth", "characters", "game"];

function showScreen(name) {
  for (const screen of SCREENS) $(`screen-${screen}`).hidden = screen !== name;
  document.body.dataset.screen = name;
}

let user = null;

const auth = initAuth({
  onAuthenticated(me) {
    user = me;
    toCharacters();
  },
});

const characters = initCharacters({
  onPlay(character) {
    toGame(character.name);
  },
  onLogout() {
    logout("You have left the lamplight. Until next time.");
  },
});

const game = initGame({
  onLeave() {
    playing("");
    game.stop();
    toCharacters();
  },
  onAuthFailed() {
    logout("Your session has expired. Please sign in again.");
  },
});

function toLogin(notice = "") {
  game.stop();
  playing("");
  auth.reset(notice);
  showScreen("auth");
  auth.focus();
}

function toCharacters() {
  showScreen("characters");
  characters.show(user).catch(() => {
    /* errors are displayed inside the screen */
  });
}

function toGame(name) {
  const token = getToken();
  if (!token) {
    toLogin("Please sign in first.");
    return;
  }
  playing(name);
  showScreen("game");
  game.start(token, name);
}

function logout(notice) {
  user = null;
  setToken(null);
  toLogin(notice);
}

// Any authenticated REST call answered with 401: the token is no good any more.
onUnauthorized(() => {
  if (user !== null || getToken()) logout("Your session has expired. Please sign in again.");
});

async function start() {
  if (!getToken()) {
    toLogin();
    return;
  }
  showScreen("loading");
  try {
    user = await api.me();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      logout("Your session has expired. Please sign in again.");
    } else {
      // Server unreachable or failing: keep the token, let the player retry.
      toLogin(err.message || "Could not reach the server.");
    }
    return;
  }
  const resume = playing();
  if (resume) toGame(resume);
  else toCharacters();
}

start();
