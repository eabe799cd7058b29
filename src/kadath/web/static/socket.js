// The game WebSocket: hello handshake, keep-alive pings, command ids and
// automatic reconnection with exponential backoff.

const PING_INTERVAL_MS = 25_000;
const BACKOFF_START_MS = 1_000;
const BACKOFF_MAX_MS = 15_000;

// Close codes with a meaning of their own (see docs/client.md).
export const CLOSE_AUTH_FAILED = 4401;
export const CLOSE_REPLACED = 4409;

/** The /ws URL on the page's own host, ws: or wss: to match the page. */
export function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws`;
}

/**
 * One game session for one character. Callbacks (all optional):
 *   onFrame(frame)              – every frame from the server, one call per frame
 *                                 (a batch message is unpacked, in seq order)
 *   onOpen({ reconnect })       – socket open and hello sent
 *   onReconnecting({ delayMs, attempt }) – connection lost, retry scheduled
 *   onAuthFailed()              – closed with 4401
 *   onReplaced()                – closed with 4409 (logged in elsewhere)
 *   onStopped({ code, reason, error }) – closed and will not retry (kicked, or
 *                               refused with an error frame before the welcome)
 */
export class GameSocket {
  constructor({ token, player, handlers = {} }) {
    this.token = token;
    this.player = player;
    this.handlers = handlers;
    this.ws = null;
    this.commandCounter = 0; // ids stay unique across reconnects
    this.attempt = 0; // consecutive failed attempts, drives the backoff
    this.hadWelcome = false; // has this session ever been welcomed?
    this.stopped = false; // no more reconnects (closed by us, 4401, 4409, kicked)
    this.noReconnect = false; // set when the server said we were kicked
    this.pingTimer = null;
    this.retryTimer = null;
    this.onlineListener = () => this.retryNow();
    // Protocol 4 (placement): a `moved` frame names the process to reconnect to; the
    // commands sent and not yet answered are sent again there (none of them was run).
    this.url = null; // null: the page's own host
    this.moved = false; // the last close was a `moved`: reconnect at once
    this.resend = false; // a `moved` came and no welcome since: resend what is unanswered
    this.moves = 0; // `moved` frames since the last welcome (a loop backs off)
    this.unanswered = new Map(); // command id -> text, until its reply
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Open the connection (also used to retry). */
  connect() {
    this.stopped = false;
    this.noReconnect = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    window.addEventListener("online", this.onlineListener);

    let ws;
    try {
      ws = new WebSocket(this.url ?? socketUrl());
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    const isReconnect = this.hadWelcome;
    this.moved = false;
    let welcomed = false; // welcomed on this very connection
    let earlyError = null; // an error frame received before the welcome

    ws.addEventListener("open", () => {
      if (ws !== this.ws) return;
      // batch: frames queued together arrive as one message (protocol 3, docs/protocol.md)
      // follow: a `moved` frame may send us to the process holding our zone (protocol 4)
      this.sendRaw({
        type: "hello",
        token: this.token,
        player: this.player,
        batch: true,
        follow: true,
      });
      this.startPing();
      this.handlers.onOpen?.({ reconnect: isReconnect });
    });

    const handleFrame = (frame) => {
      if (!frame || typeof frame !== "object" || Array.isArray(frame)) return;
      if (frame.type === "welcome") {
        // Only a welcome proves the session is healthy; reset the backoff here
        // rather than on "open" so a server that accepts-then-closes can't
        // make us hammer it every second.
        this.attempt = 0;
        this.hadWelcome = true;
        welcomed = true;
        this.moves = 0;
        if (this.resend) {
          // What the last process did not answer it did not run: send it again here.
          this.resend = false;
          for (const [id, text] of this.unanswered) this.sendRaw({ type: "command", id, text });
        } else {
          this.unanswered.clear(); // after a drop nobody knows: the player looks first
        }
      } else if (frame.type === "reply") {
        this.unanswered.delete(frame.re);
      } else if (frame.type === "moved") {
        if (typeof frame.url === "string" && /^wss?:\/\//.test(frame.url)) {
          this.url = frame.url;
          this.moved = true;
          this.resend = true;
          this.moves += 1;
        }
        return; // the server closes next
      } else if (frame.type === "error" && !welcomed && frame.code !== "rate_limited") {
        earlyError = frame.text || frame.code || "The server refused the connection.";
      } else if (frame.type === "event" && frame.event === "kicked") {
        this.noReconnect = true;
      }
      this.handlers.onFrame?.(frame);
    };

    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return; // not JSON: ignore rather than crash the client
      }
      // Protocol 3: we asked for batches, so a message is an array of frames in
      // seq order; a refusal before the hello is taken is still a lone object.
      if (Array.isArray(data)) {
        for (const frame of data) {
          if (ws !== this.ws) return; // a handler closed this socket mid-batch
          handleFrame(frame);
        }
      } else {
        handleFrame(data);
      }
    });

    // "error" is always followed by "close"; all handling happens there.
    ws.addEventListener("error", () => {});

    ws.addEventListener("close", (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.stopPing();
      if (this.stopped) return;
      if (!welcomed && this.url !== null && !this.moved) {
        this.url = null; // the process we were sent to is gone: back to the page's host
      }
      if (this.moved && this.moves <= 3) {
        this.connect(); // no backoff: the server sent us there
      } else if (this.moved) {
        this.scheduleReconnect(); // moved again and again: the cluster is reorganising
      } else if (event.code === CLOSE_AUTH_FAILED) {
        this.halt();
        this.handlers.onAuthFailed?.();
      } else if (event.code === CLOSE_REPLACED) {
        this.halt();
        this.handlers.onReplaced?.();
      } else if (this.noReconnect) {
        this.halt();
        this.handlers.onStopped?.({ code: event.code, reason: event.reason });
      } else if (earlyError) {
        // Refused before the welcome (unknown character, …): retrying would
        // only loop, so stop and let the player decide.
        this.halt();
        this.handlers.onStopped?.({ code: event.code, reason: event.reason, error: earlyError });
      } else {
        // 1001 going away, 1012 service restart, 1006 network drop, anything else.
        this.scheduleReconnect();
      }
    });
  }

  scheduleReconnect() {
    const delayMs = Math.min(BACKOFF_START_MS * 2 ** this.attempt, BACKOFF_MAX_MS);
    this.attempt += 1;
    this.handlers.onReconnecting?.({ delayMs, attempt: this.attempt });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delayMs);
  }

  /** Skip the remaining backoff delay (the "Retry now" link, or the browser coming online). */
  retryNow() {
    if (this.retryTimer === null || this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  /** Send a game command; returns its id, or null if we are not connected. */
  sendCommand(text) {
    if (!this.connected) return null;
    this.commandCounter += 1;
    const id = `c${this.commandCounter}`;
    this.sendRaw({ type: "command", id, text });
    this.unanswered.set(id, text);
    return id;
  }

  sendRaw(frame) {
    if (!this.connected) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  startPing() {
    this.stopPing();
    this.pingTimer = setInterval(() => this.sendRaw({ type: "ping" }), PING_INTERVAL_MS);
  }

  stopPing() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  /** Stop retrying without closing anything (the socket is already gone). */
  halt() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    window.removeEventListener("online", this.onlineListener);
  }

  /** Close on purpose (leaving the game): no reconnect. */
  close() {
    this.halt();
    this.stopPing();
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    if (ws.readyState === WebSocket.OPEN) {
      ws.close(1000, "leaving");
    } else if (ws.readyState === WebSocket.CONNECTING) {
      // Closing a socket mid-handshake makes Chrome log a console error;
      // wait for it to open and close it then.
      ws.addEventListener("open", () => ws.close(1000, "leaving"));
    }
  }
}
