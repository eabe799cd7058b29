// The sign-in / register screen.

import { api, ApiError, setToken } from "./api.js";
import { $, setMessage } from "./dom.js";

/**
 * Wire up the auth screen. `onAuthenticated(user)` is called once a token is
 * stored and validated. Returns { reset(notice) } to prepare the screen.
 */
export function initAuth({ onAuthenticated }) {
  const tabs = { login: $("tab-login"), register: $("tab-register") };
  const forms = { login: $("login-form"), register: $("register-form") };
  const notice = $("auth-notice");

  function selectTab(name, focus = true) {
    for (const key of Object.keys(tabs)) {
      const active = key === name;
      tabs[key].setAttribute("aria-selected", String(active));
      tabs[key].tabIndex = active ? 0 : -1;
      forms[key].hidden = !active;
    }
    setMessage($("login-error"), "");
    setMessage($("register-error"), "");
    if (focus) forms[name].querySelector("input")?.focus();
  }

  tabs.login.addEventListener("click", () => selectTab("login"));
  tabs.register.addEventListener("click", () => selectTab("register"));
  // Arrow keys move between tabs, as in any tablist.
  for (const tab of Object.values(tabs)) {
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
      const next = tab === tabs.login ? "register" : "login";
      selectTab(next, false);
      tabs[next].focus();
      event.preventDefault();
    });
  }

  /** Disable a form's controls while its request is in flight. */
  function busy(form, isBusy) {
    for (const control of form.elements) control.disabled = isBusy;
    form.setAttribute("aria-busy", String(isBusy));
  }

  async function signIn(username, password) {
    const result = await api.login(username, password);
    if (!result || !result.access_token) throw new ApiError(500, "The server sent no token.");
    setToken(result.access_token);
    return api.me();
  }

  forms.login.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errorNode = $("login-error");
    setMessage(errorNode, "");
    setMessage(notice, "");
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    if (!username || !password) {
      setMessage(errorNode, "Both a name and a password, please.");
      return;
    }
    busy(forms.login, true);
    try {
      const user = await signIn(username, password);
      forms.login.reset();
      onAuthenticated(user);
    } catch (err) {
      setToken(null);
      let message = err instanceof ApiError ? err.message : "Something went wrong.";
      if (err instanceof ApiError && err.status === 401) message = "Wrong username or password";
      setMessage(errorNode, message);
    } finally {
      busy(forms.login, false);
    }
  });

  forms.register.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errorNode = $("register-error");
    setMessage(errorNode, "");
    setMessage(notice, "");
    const username = $("register-username").value.trim();
    const password = $("register-password").value;
    const invite = $("register-invite").value.trim();
    if (!username || !password) {
      setMessage(errorNode, "Both a name and a password, please.");
      return;
    }
    busy(forms.register, true);
    try {
      await api.register(username, password, invite || null);
    } catch (err) {
      setMessage(errorNode, err instanceof ApiError ? err.message : "Something went wrong.");
      busy(forms.register, false);
      return;
    }
    // Registered: sign straight in with the same credentials.
    try {
      const user = await signIn(username, password);
      forms.register.reset();
      onAuthenticated(user);
    } catch (err) {
      setToken(null);
      selectTab("login");
      $("login-username").value = username;
      setMessage(
        notice,
        `Your account is registered, but signing in failed: ${err instanceof ApiError ? err.message : "unknown error"}`,
      );
    } finally {
      busy(forms.register, false);
    }
  });

  return {
    /** Prepare the screen, optionally with a notice ("session expired"…). */
    reset(message = "") {
      setMessage(notice, message);
      selectTab("login", false);
    },
    focus() {
      const first = $("login-username");
      (first.value ? $("login-password") : first).focus();
    },
  };
}
