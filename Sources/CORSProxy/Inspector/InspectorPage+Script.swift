extension InspectorPage {
    /// `…/inspector/app.js`: the live list (EventSource), filters, the last minute's chart, the detail view and
    /// keyboard navigation. Every piece of data reaches the DOM through `textContent` or an attribute.
    static let script = #"""
        "use strict";
        (() => {
          const base = document.querySelector('meta[name="corsproxy-inspector-base"]').content;
          const $ = (id) => document.getElementById(id);
          const rows = $("rows"), detail = $("detail"), layout = document.querySelector(".layout");
          const filters = { origin: $("filter-origin"), cors: $("filter-cors"), status: $("filter-status") };
          const maxRows = 1000;
          const events = [];
          const origins = new Set();
          // A reconnected stream sends the ring's recent exchanges again.
          const seen = new Set();
          let selected = null;
          let current = null;

          function el(tag, props, ...children) {
            const node = document.createElement(tag);
            for (const [key, value] of Object.entries(props || {})) {
              if (key === "text") node.textContent = value;
              else if (key === "class") node.className = value;
              else node.setAttribute(key, value);
            }
            for (const child of children) if (child) node.append(child);
            return node;
          }

          function matches(event) {
            if (filters.origin.value && event.origin !== filters.origin.value) return false;
            if (filters.cors.value && event.cors !== filters.cors.value) return false;
            if (filters.status.value && String(event.status)[0] !== filters.status.value) return false;
            return true;
          }

          function timeOf(iso) {
            const date = new Date(iso);
            return date.toLocaleTimeString([], { hour12: false }) + "." + String(date.getMilliseconds()).padStart(3, "0");
          }

          function row(event) {
            const tr = el("tr", { tabindex: "-1", "aria-selected": "false" });
            tr.dataset.id = event.requestId;
            tr.append(
              el("td", { text: timeOf(event.time) }),
              el("td", { text: event.method }),
              el("td", { class: "path", text: event.path, title: event.path }),
              el("td", { class: "origin", text: event.origin || "—" }),
              el("td", {}, el("span", { class: "badge " + event.cors, text: event.cors })),
              el("td", { class: "status-" + String(event.status)[0], text: String(event.status) }),
              el("td", { class: "num duration", text: event.durationMs.toFixed(1) + " ms" }),
              el("td", { class: "fault" }, event.fault ? el("span", { class: "badge fault", text: event.fault }) : null)
            );
            tr.hidden = !matches(event);
            tr.addEventListener("click", () => open(tr));
            return tr;
          }

          function updateCount() {
            const visible = rows.querySelectorAll("tr:not([hidden])").length;
            $("count").textContent = visible === events.length ? events.length + " exchanges" : visible + " of " + events.length + " exchanges";
            $("empty").hidden = events.length > 0;
            // One row is in the tab order (roving tabindex): the one last focused, else the newest shown.
            if (!current || current.hidden || !current.isConnected) {
              for (const other of rows.querySelectorAll('tr[tabindex="0"]')) other.tabIndex = -1;
              current = null;
              const first = rows.querySelector("tr:not([hidden])");
              if (first) first.tabIndex = 0;
            }
          }

          function add(event) {
            if (seen.has(event.requestId)) return;
            seen.add(event.requestId);
            events.push(event);
            if (event.origin && !origins.has(event.origin)) {
              origins.add(event.origin);
              filters.origin.append(el("option", { value: event.origin, text: event.origin }));
            }
            rows.prepend(row(event));
            while (events.length > maxRows) {
              seen.delete(events.shift().requestId);
              const last = rows.lastElementChild;
              if (last === selected) close();
              last.remove();
            }
            chart.add(event);
            chart.schedule();
            updateCount();
          }

          function applyFilters() {
            const byId = new Map(events.map((e) => [e.requestId, e]));
            for (const tr of rows.children) tr.hidden = !matches(byId.get(tr.dataset.id));
            updateCount();
          }
          for (const select of Object.values(filters)) select.addEventListener("change", applyFilters);

          function visibleRows() { return Array.from(rows.querySelectorAll("tr:not([hidden])")); }

          function focusRow(tr) {
            for (const other of rows.querySelectorAll('tr[tabindex="0"]')) other.tabIndex = -1;
            tr.tabIndex = 0;
            current = tr;
            tr.focus();
          }

          rows.addEventListener("keydown", (e) => {
            const tr = e.target.closest("tr");
            if (!tr) return;
            const list = visibleRows();
            const index = list.indexOf(tr);
            let next = null;
            if (e.key === "ArrowDown") next = list[index + 1];
            else if (e.key === "ArrowUp") next = list[index - 1];
            else if (e.key === "Home") next = list[0];
            else if (e.key === "End") next = list[list.length - 1];
            else if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(tr); return; }
            else return;
            e.preventDefault();
            if (next) focusRow(next);
          });

          document.addEventListener("keydown", (e) => {
            if (e.key === "Escape" && !detail.hidden) { e.preventDefault(); close(); }
          });

          function section(title, ...children) {
            return [el("h3", { text: title }), ...children];
          }

          function list(pairs) {
            const dl = el("dl");
            for (const [name, value] of pairs) {
              if (value === null || value === undefined || value === "") continue;
              dl.append(el("dt", { text: name }), el("dd", { text: String(value) }));
            }
            return dl;
          }

          function headers(lines) {
            if (!lines.length) return el("p", { class: "copied", text: "none" });
            const table = el("table", { class: "headers" });
            for (const [name, value] of lines) table.append(el("tr", {}, el("td", { text: name }), el("td", { text: value })));
            return table;
          }

          function command(label, text) {
            const note = el("span", { class: "copied", "aria-live": "polite" });
            const button = el("button", { type: "button", text: "Copy " + label });
            button.addEventListener("click", async () => {
              try { await navigator.clipboard.writeText(text); note.textContent = "Copied"; }
              catch { note.textContent = "Select the text to copy it"; }
            });
            return [el("pre", { class: "command", text }), el("div", { class: "actions" }, button, note)];
          }

          function render(d) {
            const x = d.exchange;
            const closeButton = el("button", { type: "button", text: "Close", "aria-label": "Close the details" });
            closeButton.addEventListener("click", close);
            const parts = [
              el("header", {}, el("h2", { id: "detail-title", text: x.method + " " + x.path }), closeButton),
              list([["Request id", x.requestId], ["Time", x.time], ["Status", x.status], ["Upstream status", d.upstreamStatus],
                    ["Duration", x.durationMs.toFixed(1) + " ms"], ["Route", d.route], ["Upstream", d.upstream],
                    ["Fault", x.fault], ["Note", d.note]]),
              ...section("CORS decision", list([
                ["Verdict", x.cors], ["Stage", x.stage], ["Origin", x.origin], ["Origin check", d.decision.origin],
                ["Rule", d.decision.rule], ["Nearest miss", d.decision.nearestMiss],
                ["Requested method", d.decision.requestedMethod],
                ["Requested headers", (d.decision.requestedHeaders || []).join(", ")],
                ["Preflight refusal", d.decision.refusal], ["Would block", d.decision.wouldBlock]])),
            ];
            if (d.block) {
              const messages = [];
              if (d.block.chrome) messages.push(el("p", { class: "message chrome" }, el("span", { class: "who", text: "Chrome" }), d.block.chrome));
              if (d.block.firefox) messages.push(el("p", { class: "message firefox" }, el("span", { class: "who", text: "Firefox" }), d.block.firefox));
              parts.push(...section("What the browser says", ...messages, el("p", { text: d.block.rule })));
              if (d.block.fix) parts.push(...section("Fix", el("p", { class: "fix", text: d.block.fix })));
            } else if (d.decision.wouldBlockChrome) {
              parts.push(...section("Enforced, Chrome would say", el("p", { class: "message" }, d.decision.wouldBlockChrome)));
            }
            parts.push(...section("Replay", ...command("curl", d.curl), ...(d.doctor ? command("doctor command", d.doctor) : [])));
            parts.push(...section("Request headers", headers(d.requestHeaders)));
            parts.push(...section("Response headers", headers(d.responseHeaders)));
            detail.replaceChildren(...parts);
          }

          async function open(tr) {
            if (selected) selected.setAttribute("aria-selected", "false");
            selected = tr;
            tr.setAttribute("aria-selected", "true");
            focusRow(tr);
            detail.hidden = false;
            layout.classList.add("open");
            detail.replaceChildren(el("p", { class: "copied", text: "Loading…" }));
            try {
              const response = await fetch(base + "/exchanges/" + encodeURIComponent(tr.dataset.id), { cache: "no-store" });
              const body = await response.json();
              if (selected !== tr) return;
              if (!response.ok) { detail.replaceChildren(el("p", { text: body.message || "Not found" })); return; }
              render(body);
            } catch (error) {
              detail.replaceChildren(el("p", { text: "Could not load the exchange: " + error }));
            }
          }

          function close() {
            detail.hidden = true;
            detail.replaceChildren();
            layout.classList.remove("open");
            const tr = selected;
            selected = null;
            if (tr) { tr.setAttribute("aria-selected", "false"); if (tr.isConnected) focusRow(tr); }
          }

          const chart = (() => {
            const seconds = 60, width = 600, height = 56;
            const ns = "http://www.w3.org/2000/svg";
            const buckets = new Map();
            const svg = document.createElementNS(ns, "svg");
            svg.setAttribute("viewBox", "0 0 " + width + " " + height);
            svg.setAttribute("preserveAspectRatio", "none");
            $("chart").append(svg);
            function add(event) {
              const second = Math.floor(Date.parse(event.time) / 1000);
              const bucket = buckets.get(second) || { all: 0, blocked: 0 };
              bucket.all += 1;
              if (event.cors === "blocked") bucket.blocked += 1;
              buckets.set(second, bucket);
            }
            function draw() {
              const now = Math.floor(Date.now() / 1000);
              for (const second of buckets.keys()) if (second <= now - seconds) buckets.delete(second);
              let all = 0, blocked = 0, peak = 1;
              for (const b of buckets.values()) { all += b.all; blocked += b.blocked; peak = Math.max(peak, b.all); }
              const bars = [];
              const step = width / seconds;
              for (let i = 0; i < seconds; i++) {
                const b = buckets.get(now - seconds + 1 + i);
                if (!b) continue;
                const h = (b.all / peak) * (height - 2), hb = (b.blocked / peak) * (height - 2);
                for (const [cls, y, hh] of [["ok", height - h, h - hb], ["bad", height - hb, hb]]) {
                  if (hh <= 0) continue;
                  const rect = document.createElementNS(ns, "rect");
                  rect.setAttribute("class", cls);
                  rect.setAttribute("x", String(i * step + 1));
                  rect.setAttribute("width", String(step - 2));
                  rect.setAttribute("y", String(y));
                  rect.setAttribute("height", String(hh));
                  bars.push(rect);
                }
              }
              const axis = document.createElementNS(ns, "line");
              axis.setAttribute("class", "axis");
              for (const [k, v] of [["x1", 0], ["x2", width], ["y1", height - 0.5], ["y2", height - 0.5]]) axis.setAttribute(k, String(v));
              svg.replaceChildren(axis, ...bars);
              $("rate").textContent = (all / seconds).toFixed(all / seconds < 10 ? 1 : 0);
              $("blocked").textContent = all ? Math.round((blocked / all) * 100) + "%" : "0%";
            }
            // Redrawn each second, and once per frame at most when exchanges arrive.
            let pending = false;
            function schedule() {
              if (pending) return;
              pending = true;
              requestAnimationFrame(() => { pending = false; draw(); });
            }
            setInterval(draw, 1000);
            return { add, draw, schedule };
          })();

          const connection = $("connection");
          const stream = new EventSource(base + "/events");
          stream.addEventListener("open", () => { connection.textContent = "Live"; connection.className = "connection live"; });
          stream.addEventListener("error", () => { connection.textContent = "Reconnecting…"; connection.className = "connection down"; });
          stream.addEventListener("message", (e) => add(JSON.parse(e.data)));
          stream.addEventListener("dropped", (e) => {
            connection.textContent = "Live (" + JSON.parse(e.data).dropped + " exchanges missed: this page read too slowly)";
          });
          updateCount();
          chart.draw();
        })();

        """#
}
