// The live page of a served simulation (GET /simstatus/, a simstatus extension, not Nova).
//
// It polls the JSON routes the server already has, once a second, and acts through them with the
// token typed into the page: no framework, no build step, nothing fetched from elsewhere. Every
// error answer is shown in one of the message lines (Nova's fault envelope gives the text).
"use strict";

(() => {
  const REFRESH_MS = 1000; // one refresh a second: four small GETs
  const RETRY_MS = 2000; // the least time between two attempts to open the notification stream
  const KEEP = 40; // entries kept in each list on the page
  const SERVICES_VERSION = "2.11"; // os-services shows forced_down from 2.11
  const SERVERS_VERSION = "2.16"; // servers show host_status from 2.16
  const LABELS = { "": "no servers", "?": "not shown" };

  const $ = (id) => document.getElementById(id);
  const state = {
    hosts: new Map(), // host -> {status, service}; status "" when no server is on the host
    cells: new Map(), // host -> its <button> in the grid
    selected: null,
    clock: null, // the last answer of GET /simstatus/clock
    faults: [],
    stream: null, // {token, abort} of the open notification stream
    streamTried: 0,
    lastEventId: null,
  };

  let advancing = false; // an advance from this page is running

  class ApiError extends Error {}

  /** The message of an error body: Nova's {"badRequest": {"code", "message"}} or keystone's {"error": {...}}. */
  function faultMessage(body) {
    if (body && typeof body === "object") {
      for (const value of Object.values(body)) {
        if (value && typeof value === "object" && "message" in value) return String(value.message);
      }
    }
    return null;
  }

  async function failure(method, path, response) {
    const text = await response.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch (e) {
      // not JSON: the text itself is the message
    }
    const message = faultMessage(body) ?? (text.slice(0, 300) || response.statusText);
    return new ApiError(`${method} ${path}: ${response.status} ${message}`);
  }

  /** One request with the page's token; resolves to {data, at} (at: X-Simstatus-Clock), rejects with the error's text. */
  async function call(method, path, { body, version } = {}) {
    const headers = { "X-Auth-Token": $("token").value.trim(), Accept: "application/json" };
    if (version) headers["X-OpenStack-Nova-API-Version"] = version;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(`${method} ${path}: no answer (${e.message}); is the server still running?`);
    }
    if (!response.ok) throw await failure(method, path, response);
    const clock = response.headers.get("X-Simstatus-Clock");
    return { data: await response.json(), at: clock === null ? NaN : Number(clock) };
  }

  function say(id, text, isError) {
    const line = $(id);
    line.textContent = text;
    line.classList.toggle("error", Boolean(isError));
  }

  /** A simulated instant as "t = 61.0 s (2026-01-01T00:01:01Z)", the date from the last clock answer. */
  function when(seconds) {
    const s = Number(seconds);
    if (!Number.isFinite(s)) return "t = ?";
    let date = "";
    if (state.clock) {
      const d = new Date(Date.parse(state.clock.time) + (s - state.clock.now) * 1000);
      if (!Number.isNaN(d.getTime())) date = ` (${d.toISOString().replace(".000Z", "Z")})`;
    }
    return `t = ${s.toFixed(1)} s${date}`;
  }

  function prepend(listId, text, className) {
    const list = $(listId);
    const item = document.createElement("li");
    item.textContent = text;
    if (className) item.className = className;
    list.prepend(item);
    while (list.children.length > KEEP) list.lastElementChild.remove();
  }

  // -- refreshing ---------------------------------------------------------------------------

  async function allServers() {
    // every page of servers/detail (a cloud over Nova's max_limit, 1000, is paged with a next link)
    let path = "/v2.1/servers/detail?all_tenants=1";
    const servers = [];
    let at = NaN;
    while (path) {
      const answer = await call("GET", path, { version: SERVERS_VERSION });
      servers.push(...answer.data.servers);
      at = answer.at;
      const next = (answer.data.servers_links || []).find((link) => link.rel === "next");
      path = next ? new URL(next.href, location.href).pathname + new URL(next.href, location.href).search : null;
    }
    return { servers, at };
  }

  async function refreshOnce() {
    try {
      const clock = (await call("GET", "/simstatus/clock")).data;
      state.clock = clock;
      showClock(clock);
      const services = (await call("GET", "/v2.1/os-services", { version: SERVICES_VERSION })).data.services;
      const { servers, at } = await allServers();
      state.faults = (await call("GET", "/simstatus/faults")).data.faults;
      update(services, servers, at);
      showFaults();
      say("refresh-status", `Refreshed: the grid shows ${when(at)}.`, false);
      openStream();
    } catch (e) {
      say("refresh-status", `Refresh failed: ${e.message}`, true);
    }
  }

  let timer = null;
  let running = false;
  let again = false;

  async function loop() {
    running = true;
    try {
      await refreshOnce();
    } finally {
      running = false;
      timer = setTimeout(loop, again ? 0 : REFRESH_MS);
      again = false;
    }
  }

  /** Refresh now (after an action), or as soon as the refresh in flight ends. */
  function refreshSoon() {
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    loop();
  }

  function showClock(clock) {
    $("clock").textContent = when(clock.now);
    const pace = clock.mode === "manual" ? "manual clock" : `realtime clock ×${clock.speed}`;
    const lag = clock.lag > 0 ? `, ${clock.lag.toFixed(1)} s behind` : "";
    $("clock-mode").textContent = `(${pace}${lag})`;
    const manual = clock.mode === "manual";
    $("advance").disabled = !manual || advancing;
    $("advance-note").textContent = manual
      ? "Runs the simulation that many seconds further (at most 366 days per call)."
      : "The clock is realtime: it moves by itself. Start the server with --clock manual to advance it by hand.";
  }

  function update(services, servers, at) {
    const shown = new Map(); // host -> host_status of its servers (all servers of a host agree in one answer)
    for (const server of servers) {
      const host = server["OS-EXT-SRV-ATTR:host"];
      if (host && !shown.has(host)) shown.set(host, "host_status" in server ? server.host_status : "?");
    }
    for (const service of services) {
      if (service.binary !== "nova-compute") continue;
      const status = shown.has(service.host) ? shown.get(service.host) : "";
      const before = state.hosts.get(service.host);
      if (before && before.status !== status) {
        prepend("transitions", `${when(at)}: ${service.host} ${label(before.status)} → ${label(status)}`);
      }
      state.hosts.set(service.host, { status, service });
    }
    drawGrid();
  }

  function label(status) {
    return LABELS[status] ?? status;
  }

  function flags(service) {
    const out = [];
    if (service.forced_down) out.push("forced down");
    if (service.status === "disabled") out.push("disabled");
    if (service.state === "down") out.push("state down");
    return out.join(", ") || "service up";
  }

  function drawGrid() {
    const grid = $("grid");
    for (const [host, info] of state.hosts) {
      let cell = state.cells.get(host);
      if (!cell) {
        cell = document.createElement("button");
        cell.type = "button";
        cell.className = "cell";
        cell.dataset.host = host;
        for (const part of ["name", "status", "flags"]) {
          const span = document.createElement("span");
          span.className = part;
          cell.append(span);
        }
        cell.querySelector(".name").textContent = host;
        cell.addEventListener("click", () => select(host));
        grid.append(cell);
        state.cells.set(host, cell);
      }
      cell.dataset.status = info.status;
      cell.querySelector(".status").textContent = label(info.status);
      cell.querySelector(".flags").textContent = flags(info.service);
      cell.setAttribute("aria-pressed", String(host === state.selected));
    }
  }

  function showFaults() {
    const list = $("faults");
    const items = state.faults.slice(-KEEP).reverse().map((fault) => {
      const item = document.createElement("li");
      const where = fault.hosts.length ? fault.hosts.join(", ") : "every host";
      const span = fault.active ? `from ${when(fault.start)}, active` : `${when(fault.start)} to ${when(fault.end)}`;
      item.textContent = `${fault.id} ${fault.kind} on ${where}, ${span} (${fault.source})`;
      return item;
    });
    list.replaceChildren(...items);
  }

  // -- the notification stream (fetch, not EventSource: EventSource cannot send X-Auth-Token) --

  function openStream() {
    const token = $("token").value.trim();
    if (state.stream && state.stream.token === token) return;
    if (state.stream) state.stream.abort.abort(); // the token changed: reopen with the new one
    state.stream = null;
    if (Date.now() - state.streamTried < RETRY_MS) return;
    state.streamTried = Date.now();
    const stream = { token, abort: new AbortController() };
    state.stream = stream;
    readStream(stream).catch((e) => {
      if (stream.abort.signal.aborted) return;
      say("stream-status", `Notifications: ${e.message} (reconnecting)`, true);
    }).finally(() => {
      if (state.stream === stream) state.stream = null;
    });
  }

  async function readStream(stream) {
    const path = "/simstatus/notifications";
    const headers = { "X-Auth-Token": stream.token, Accept: "text/event-stream" };
    if (state.lastEventId !== null) headers["Last-Event-ID"] = state.lastEventId;
    const response = await fetch(path, { headers, cache: "no-store", signal: stream.abort.signal });
    if (!response.ok) throw await failure("GET", path, response);
    say("stream-status", "Notifications: connected (service writes from now on).", false);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new ApiError("the stream ended (did the server stop?)");
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        onEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  }

  function onEvent(block) {
    let data = "";
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) {
        const comment = line.slice(1).trim();
        if (comment !== "keep-alive") prepend("actions", comment, "note");
      } else if (line.startsWith("id:")) {
        state.lastEventId = line.slice(3).trim();
      } else if (line.startsWith("data:")) {
        data += line.slice(5).trimStart();
      }
    }
    if (!data) return;
    const message = JSON.parse(data);
    const d = message.payload["nova_object.data"];
    const reason = d.disabled_reason ? ` (${d.disabled_reason})` : "";
    prepend("actions", `${message.timestamp} UTC: service.update ${d.host}: forced_down ${d.forced_down}, `
      + `${d.disabled ? "disabled" : "enabled"}${reason}`);
  }

  // -- actions ------------------------------------------------------------------------------

  function select(host) {
    state.selected = host;
    $("selected").textContent = host;
    for (const button of document.querySelectorAll(".host-action")) button.disabled = false;
    drawGrid();
  }

  async function act(what, request) {
    say("message", `${what}…`, false);
    try {
      const answer = await request();
      say("message", `${what}: done at ${when(answer.at)}.`, false);
    } catch (e) {
      say("message", `${what} failed: ${e.message}`, true);
    }
    refreshSoon();
  }

  function service(action, extra) {
    const host = state.selected;
    return call("PUT", `/v2.1/os-services/${action}`,
      { version: SERVICES_VERSION, body: { host, binary: "nova-compute", ...extra } });
  }

  async function recover(host) {
    const active = state.faults.filter((fault) => fault.active && fault.hosts.includes(host));
    if (!active.length) throw new ApiError(`no active fault on ${host} (as of the last refresh)`);
    let answer;
    for (const fault of active) answer = await call("DELETE", `/simstatus/faults/${encodeURIComponent(fault.id)}`);
    return answer;
  }

  async function advance() {
    const field = $("advance-seconds");
    const seconds = field.valueAsNumber;
    if (!Number.isFinite(seconds)) {
      say("message", `Advance the clock: ${JSON.stringify(field.value)} is not a number of seconds.`, true);
      return;
    }
    advancing = true;
    $("advance").disabled = true; // one at a time from this page (the server would queue them)
    try {
      await act(`Advance the clock ${seconds} s`, () => call("POST", "/simstatus/clock/advance", { body: { seconds } }));
    } finally {
      advancing = false;
      $("advance").disabled = !(state.clock && state.clock.mode === "manual");
    }
  }

  function wire() {
    for (const button of document.querySelectorAll("button[data-fault]")) {
      button.classList.add("host-action");
      button.addEventListener("click", () => {
        const host = state.selected;
        act(`${button.textContent} ${host}`, () => call("POST", "/simstatus/faults",
          { body: { kind: button.dataset.fault, host } }));
      });
    }
    const services = {
      "force-down": ["force-down", { forced_down: true }],
      unforce: ["force-down", { forced_down: false }],
      disable: ["disable", {}],
      enable: ["enable", {}],
    };
    for (const [id, [action, extra]] of Object.entries(services)) {
      const button = $(id);
      button.classList.add("host-action");
      button.addEventListener("click", () => act(`${button.textContent} ${state.selected}`, () => service(action, extra)));
    }
    $("recover").classList.add("host-action");
    $("recover").addEventListener("click", () => {
      const host = state.selected;
      act(`End the faults of ${host}`, () => recover(host));
    });
    $("advance").addEventListener("click", advance);
    $("token").addEventListener("change", () => {
      if (state.stream) {
        // the stream read with the old token: close it now, reopen after a refresh with the new one works
        state.stream.abort.abort();
        state.stream = null;
        say("stream-status", "Notifications: closed (the token changed); reopened once a refresh succeeds.", false);
      }
      refreshSoon();
    });
  }

  wire();
  loop();
})();
