/* poold's live page (docs/page.md). The server renders the headline table;
 * this script keeps it current and draws the rest from the JSON endpoints
 * named on <body>: data-stats (/stats or /process/PID/stats) and data-map
 * (/stats/map or /process/PID/map). Nothing is fetched from anywhere else,
 * nothing is stored outside this tab. window.pooldModel says what is drawn,
 * computed while drawing, so tests (and users) can read the page. */
"use strict";

(function () {
  const body = document.body;
  const KIND = body.dataset.kind;            // "poold" or "process"
  const STATS_URL = body.dataset.stats, MAP_URL = body.dataset.map;
  const STATS_EVERY = 1000, MAP_EVERY = 2000, LIST_EVERY = 5000;
  const TIMELINE_POINTS = 300;               // 5 minutes at one look a second
  const PAGE_ARENAS = 1000;                  // arenas per page of the map

  // The Grafana dashboards' names and colours for poold_arena_bytes{kind}.
  const KINDS = [
    ["allocated", "#73bf69"], ["free_blocks", "#ff9830"], ["empty_pools", "#fade2a"],
    ["untouched", "#5794f2"], ["returned", "#8e8e8e"], ["pool_headers", "#b877d9"],
    ["quantization", "#f2495c"], ["alignment", "#c4162a"]];
  // Pool states in the map, coloured like the byte kinds they hold.
  const STATES = {
    "h": ["header", "#b877d9"], ".": ["untouched", "#5794f2"], "u": ["used", "#73bf69"],
    "e": ["empty", "#fade2a"], "r": ["returned", "#8e8e8e"], "s": ["span", "#56a64b"],
    "a": ["alignment", "#c4162a"]};
  const FULL = [0x37, 0x87, 0x2d], SPARSE = [0xc8, 0xf2, 0xc2];   // used pools: full .. nearly empty

  const $ = (id) => document.getElementById(id);
  const model = window.pooldModel = {
    kind: KIND, polls: 0, mapDraws: 0, arenas: 0, pools: 0, states: {}, total: 0, records: 0,
    offset: 0, order: "fullest", colour: "fullness", signature: "", timeline: 0, error: ""};

  // ---- formatting -------------------------------------------------------------------------
  function bytes(x) {
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
    return (i ? x.toFixed(1) : x.toFixed(0)) + " " + u[i];
  }
  function format(v, how) {
    if (v === undefined || v === null) return "\u2014";
    if (typeof v === "string") return v;
    switch (how) {
      case "bytes": return bytes(v);
      case "percent": return (v * 100).toFixed(1) + " %";
      case "ratio": return v.toFixed(2);
      case "rate": return Math.round(v).toLocaleString("en") + " /s";
      default: return Math.round(v).toLocaleString("en");
    }
  }
  function at(obj, path) {
    for (const k of path.split(".")) {
      if (obj === null || typeof obj !== "object" || !(k in obj)) return undefined;
      obj = obj[k];
    }
    return obj;
  }
  function hex(c) { return "#" + c.map((x) => x.toString(16).padStart(2, "0")).join(""); }
  function rgb(s) { return [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16)); }
  function legend(ul, items) {
    ul.textContent = "";
    for (const [name, colour] of items) {
      const li = document.createElement("li");
      li.textContent = name;
      li.style.setProperty("--swatch", colour);
      ul.appendChild(li);
    }
  }

  async function getJSON(url) {
    const r = await fetch(url, {credentials: "same-origin", cache: "no-store"});
    if (!r.ok) throw new Error(url + ": " + r.status);
    return r.json();
  }

  // ---- headline figures ---------------------------------------------------------------------
  const cells = Array.from(document.querySelectorAll("[data-stat]"));
  const previous = new Map();                // rate figures: path -> [time, value]
  function headline(stats, now) {
    for (const td of cells) {
      const path = td.dataset.stat, how = td.dataset.format;
      const v = at(stats, path);
      td.dataset.value = v === undefined ? "" : String(v);
      if (how === "rate" && typeof v === "number") {
        const p = previous.get(path);
        previous.set(path, [now, v]);
        td.textContent = p && now > p[0] ? format((v - p[1]) * 1000 / (now - p[0]), how)
                                         : "\u2014";
      } else {
        td.textContent = format(v, how);
      }
    }
  }

  // ---- where the bytes go ------------------------------------------------------------------------
  function bytesBar(a) {
    const bar = $("bytes"), total = at(a, "arenas.mapped_bytes") || 0;
    bar.textContent = "";
    const items = [];
    for (const [kind, colour] of KINDS) {
      const v = at(a, "bytes." + kind) || 0;
      items.push([kind + " " + bytes(v), colour]);
      if (!total || !v) continue;
      const d = document.createElement("div");
      d.style.width = (100 * v / total) + "%";
      d.style.background = colour;
      d.title = kind + ": " + bytes(v);
      d.dataset.kind = kind;
      bar.appendChild(d);
    }
    legend($("bytes-legend"), items);
  }

  // ---- size classes -------------------------------------------------------------------------------
  function classes(a) {
    const list = a.size_classes || [], box = $("classes");
    let most = 1;
    for (const c of list) most = Math.max(most, c.blocks_allocated + c.blocks_free);
    if (box.childElementCount !== list.length * 3) {
      box.textContent = "";
      for (let i = 0; i < list.length; i++) {
        const size = document.createElement("span"), bar = document.createElement("div"),
          pools = document.createElement("span");
        size.className = "size"; bar.className = "bar"; pools.className = "pools";
        for (const colour of [KINDS[0][1], KINDS[1][1]]) {
          const d = document.createElement("div");
          d.style.background = colour;
          bar.appendChild(d);
        }
        box.append(size, bar, pools);
      }
    }
    list.forEach((c, i) => {
      const [size, bar, pools] = [box.children[3 * i], box.children[3 * i + 1], box.children[3 * i + 2]];
      size.textContent = c.size + " B";
      bar.children[0].style.width = (100 * c.blocks_allocated / most) + "%";
      bar.children[1].style.width = (100 * c.blocks_free / most) + "%";
      bar.title = c.blocks_allocated + " allocated, " + c.blocks_free + " free blocks";
      pools.textContent = c.full_pools + " full / " + (c.pools - c.full_pools) + " partly";
    });
    model.classes = list.length;
  }

  // ---- the timeline (kept here only) -----------------------------------------------------------
  const series = [];
  const LINES = [["mapped", "#5794f2"], ["allocated", "#73bf69"], ["RSS", "#b877d9"]];
  function timeline(stats, now) {
    series.push({t: now, mapped: at(stats, "allocator.arenas.mapped_bytes") || 0,
                 allocated: at(stats, "allocator.bytes.allocated") || 0,
                 RSS: at(stats, "process.resident_memory_bytes"),
                 ratio: at(stats, "allocator.fragmentation_ratio") || 0});
    while (series.length > TIMELINE_POINTS) series.shift();
    model.timeline = series.length;
    if (series.length === 1)
      legend($("timeline-legend"), LINES.concat([["fragmentation ratio (below)", "#ff9830"]]));
    plot($("timeline"), LINES, bytes);
    plot($("ratio"), [["ratio", "#ff9830"]], (v) => v.toFixed(2));
  }
  function plot(canvas, lines, label) {
    const w = canvas.width = canvas.clientWidth || 640, h = canvas.height;
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, w, h);
    let top = 0;
    for (const p of series) for (const [k] of lines) top = Math.max(top, p[k] || 0);
    top = top || 1;
    const t0 = series[0].t, span = Math.max(60000, now() - t0);   // fills a minute, then 5
    g.strokeStyle = "#d0d7de"; g.fillStyle = "#59636e"; g.font = "11px sans-serif";
    g.beginPath(); g.moveTo(0, h - 0.5); g.lineTo(w, h - 0.5); g.stroke();
    g.fillText(label(top), 4, 12);
    for (const [k, colour] of lines) {
      g.strokeStyle = colour; g.lineWidth = 2; g.beginPath();
      let started = false;
      for (const p of series) {
        if (typeof p[k] !== "number") continue;
        const x = (p.t - t0) / span * w, y = h - 2 - (p[k] / top) * (h - 16);
        if (started) g.lineTo(x, y); else { g.moveTo(x, y); started = true; }
      }
      g.stroke();
    }
  }
  function now() { return performance.now(); }

  // ---- the arena map ------------------------------------------------------------------------------
  let map = null, mapStats = null, geometry = null;
  // One arena's pool string (map_json.h: [run length]token...) -> [{s, c, u}] of its pools.
  function decode(str) {
    const pools = [];
    for (let i = 0; i < str.length;) {
      let run = 0;
      while (str[i] >= "0" && str[i] <= "9") run = run * 10 + (str.charCodeAt(i++) - 48);
      const s = str[i++];
      let pool = {s};
      if (s === "u") {
        pool = {s, c: parseInt(str.substr(i, 2), 16), u: parseInt(str.substr(i + 2, 4), 16)};
        i += 6;
      }
      for (let k = 0; k < (run || 1); k++) pools.push(pool);
    }
    return pools;
  }
  // Class c of n: a hue from red (small) to violet (large), as RGB (HSL with
  // saturation 0.55, lightness 0.5).
  function classColour(c, n) {
    const hue = 300 * c / Math.max(1, n - 1), a = 0.55 * 0.5;
    const f = (k) => {
      const kk = (k + hue / 30) % 12;
      return Math.round(255 * (0.5 - a * Math.max(-1, Math.min(kk - 3, 9 - kk, 1))));
    };
    return [f(0), f(8), f(4)];
  }
  function poolColour(p, mode, cls) {
    if (p.s !== "u") return STATE_RGB[p.s] || STATE_RGB["."];
    if (mode === "state") return STATE_RGB.u;
    if (mode === "class") return classColour(p.c, cls.length);
    const blocks = cls[p.c] ? cls[p.c].blocks_per_pool : 1;
    const f = Math.min(1, p.u / Math.max(1, blocks));
    return SPARSE.map((x, i) => Math.round(x + (FULL[i] - x) * f));
  }
  const STATE_RGB = {};
  for (const k in STATES) STATE_RGB[k] = rgb(STATES[k][1]);

  function drawMap() {
    if (!map) return;
    const canvas = $("map"), mode = $("colour").value, cls = (mapStats && mapStats.size_classes) || [];
    const rows = map.arenas.length, ppa = map.pools_per_arena || 64;
    const avail = Math.max(320, ($("map-wrap").clientWidth || 640) - 2);
    const cw = Math.max(2, Math.min(14, Math.floor(avail / ppa)));
    const rh = rows <= 40 ? 14 : Math.max(1, Math.min(10, Math.floor(900 / rows)));
    const gap = cw >= 5 && rh >= 5 ? 1 : 0;
    canvas.width = cw * ppa;
    canvas.height = Math.max(1, rh * rows);
    geometry = {cw, rh, ppa};
    const g = canvas.getContext("2d");
    const img = g.createImageData(canvas.width, canvas.height), px = img.data;
    const states = {};
    let pools = 0, sig = 0;
    for (let r = 0; r < rows; r++) {
      const arena = map.arenas[r];
      for (let i = 0; i < arena.pools.length && i < ppa; i++) {
        const p = arena.pools[i], c = poolColour(p, mode, cls);
        const name = STATES[p.s] ? STATES[p.s][0] : "untouched";
        states[name] = (states[name] || 0) + 1;
        pools++;
        sig = (sig * 31 + p.s.charCodeAt(0) * 7 + (p.u || 0)) % 1000000007;
        for (let y = r * rh; y < (r + 1) * rh - (rh > 2 ? gap : 0); y++) {
          let o = (y * canvas.width + i * cw) * 4;
          for (let x = 0; x < cw - gap; x++, o += 4) {
            px[o] = c[0]; px[o + 1] = c[1]; px[o + 2] = c[2]; px[o + 3] = 255;
          }
        }
      }
    }
    g.putImageData(img, 0, 0);
    Object.assign(model, {arenas: rows, pools, states, total: map.total, records: map.records,
                          offset: map.offset, order: map.order, colour: mode,
                          signature: rows + ":" + sig, mapDraws: model.mapDraws + 1});
    canvas.dataset.drawnPools = String(pools);
    canvas.dataset.drawnArenas = String(rows);
    const first = rows ? map.offset + 1 : 0, last = map.offset + rows;
    $("page-label").textContent = rows ? " arenas " + first + "\u2013" + last + " of " + map.records + " " : " no arena ";
    $("pager").hidden = map.records <= PAGE_ARENAS && map.offset === 0;
    let note = map.total + (map.total === 1 ? " arena" : " arenas") + " of " + ppa + " pools";
    if (map.records && map.records < map.total) note += "; " + map.records + " of them in the process's map";
    if (!map.total) note = "No arena mapped yet: nothing allocated through the pools.";
    else if (!map.records) note += "; its segment has no arena map (an older shim).";
    $("map-note").textContent = note;
    legendMap(mode, cls);
  }
  function legendMap(mode, cls) {
    const items = mode === "class"
      ? cls.filter((c) => c.pools).map((c) => [c.size + " B", hex(classColour(cls.indexOf(c), cls.length))])
      : Object.keys(STATES).map((k) => [STATES[k][0], STATES[k][1]]);
    if (mode === "fullness") items.splice(2, 1, ["used, full", hex(FULL)], ["used, nearly empty", hex(SPARSE)]);
    if (mode === "class") items.push(...["h", ".", "e", "r"].map((k) => [STATES[k][0], STATES[k][1]]));
    legend($("map-legend"), items);
  }

  let mapOffset = 0, mapBusy = false, mapWait = MAP_EVERY;
  async function loadMap() {
    if (mapBusy) return;
    mapBusy = true;
    const t = now();
    try {
      const q = "?order=" + $("order").value + "&offset=" + mapOffset + "&limit=" + PAGE_ARENAS;
      const m = await getJSON(MAP_URL + q);
      for (const a of m.arenas) a.pools = decode(a[1]);
      map = m;
      requestAnimationFrame(drawMap);
      // a big map is fetched less often, so the page never costs much
      mapWait = Math.max(MAP_EVERY, 10 * (now() - t));
    } catch (e) {
      model.error = String(e);
    } finally {
      mapBusy = false;
    }
  }

  function tip(ev) {
    const box = $("tip"), canvas = $("map");
    if (!map || !geometry) return;
    const r = canvas.getBoundingClientRect();
    const x = (ev.clientX - r.left) * canvas.width / r.width, y = (ev.clientY - r.top) * canvas.height / r.height;
    const row = Math.floor(y / geometry.rh), col = Math.floor(x / geometry.cw);
    const arena = map.arenas[row];
    if (!arena || col < 0 || col >= arena.pools.length) { box.hidden = true; return; }
    const p = arena.pools[col], cls = (mapStats && mapStats.size_classes) || [];
    let text = "arena " + arena[0] + " (#" + (map.offset + row + 1) + "), pool " + col + "\n" +
      (STATES[p.s] ? STATES[p.s][0] : "?");
    if (p.s === "u") {
      const c = cls[p.c];
      text += ": " + (c ? c.size + "-byte blocks, " + p.u + " of " + c.blocks_per_pool + " used"
                        : "class " + p.c + ", " + p.u + " used");
    }
    box.textContent = text;
    box.hidden = false;
    const wrap = $("map-wrap").getBoundingClientRect();
    box.style.left = (ev.clientX - wrap.left + 12) + "px";
    box.style.top = (ev.clientY - wrap.top + 12) + "px";
  }

  // ---- the process selector ---------------------------------------------------------------------
  function processList(stats) {
    const pc = stats.process_collector;
    if (!pc || !pc.enabled) return;
    const sel = $("process"), here = KIND === "process" ? location.pathname.split("/")[2] : "";
    const want = [["", "poold itself"]].concat((stats.processes || []).map(
      (p) => [String(p.pid), p.comm + " (pid " + p.pid + ", " + (p.allocator_name || "poolalloc") + ")"]));
    const have = Array.from(sel.options).map((o) => o.value + "\u0000" + o.textContent).join("|");
    if (have !== want.map((w) => w.join("\u0000")).join("|")) {
      sel.textContent = "";
      for (const [v, t] of want) sel.add(new Option(t, v));
    }
    sel.value = here;
    $("procsel").hidden = false;
    model.processes = want.length - 1;
  }

  // ---- polling ----------------------------------------------------------------------------------------
  async function poll() {
    try {
      const stats = await getJSON(STATS_URL);
      const t = now();
      const a = stats.allocator || {};
      mapStats = a;
      headline(stats, t);
      bytesBar(a);
      classes(a);
      timeline(stats, t);
      if (KIND === "poold") processList(stats);
      model.polls++;
      model.error = "";
      $("status").textContent = "Live: updated " + new Date().toLocaleTimeString("en-GB") +
        (KIND === "process" ? " (the process publishes every " + (stats.interval_ms / 1000) + " s)" : "");
    } catch (e) {
      model.error = String(e);
      $("status").textContent = KIND === "process" ? "The process is no longer exported." : "poold does not answer.";
    }
  }
  async function pollList() {
    try { processList(await getJSON("/stats")); } catch (e) { model.error = String(e); }
  }
  function every(fn, ms) {
    const run = async () => { await fn(); setTimeout(run, typeof ms === "function" ? ms() : ms); };
    run();
  }

  body.classList.add("live");
  for (const s of document.querySelectorAll(".js")) s.hidden = false;
  $("colour").addEventListener("change", () => requestAnimationFrame(drawMap));
  $("order").addEventListener("change", () => { mapOffset = 0; loadMap(); });
  $("prev").addEventListener("click", () => { mapOffset = Math.max(0, mapOffset - PAGE_ARENAS); loadMap(); });
  $("next").addEventListener("click", () => {
    if (map && map.next_offset !== null) { mapOffset = map.next_offset; loadMap(); }
  });
  $("process").addEventListener("change", (ev) => {
    location.href = ev.target.value ? "/process/" + ev.target.value : "/";
  });
  $("map").addEventListener("mousemove", tip);
  $("map").addEventListener("click", tip);
  $("map").addEventListener("mouseleave", () => { $("tip").hidden = true; });
  window.addEventListener("resize", () => requestAnimationFrame(drawMap));
  every(poll, STATS_EVERY);
  every(loadMap, () => mapWait);
  if (KIND === "process") every(pollList, LIST_EVERY);
})();
