// mtb browse: the page. Plain DOM, no framework, no network beyond our own /api.
//
// Safety rule for this file: text from the data directory (questions, answers,
// judgments, model names) only ever reaches the page through createTextNode /
// textContent / option.text. Nothing here uses innerHTML, insertAdjacentHTML,
// document.write or eval, and no link is ever made from data, so an answer
// holding <script>, <img onerror=...> or a javascript: URL shows up as text.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const embedded = $("mtb-data");
  const EMBED = embedded ? JSON.parse(embedded.textContent) : null;
  const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const RADAR_MAX_MODELS = 10;

  // ---- data: the server's JSON API, or the copy embedded by --export --------
  async function api(kind, bench, id) {
    if (EMBED) {
      if (kind === "index") return EMBED.index;
      if (kind === "question") return EMBED.question[bench][id];
      if (kind === "agreement") return EMBED.agreement[bench];
      if (kind === "arena") return EMBED.arena[id];
      return EMBED.leaderboard[bench];
    }
    const params = new URLSearchParams();
    if (bench !== undefined) params.set("bench", bench);
    if (id !== undefined) params.set(kind === "arena" ? "log" : "id", id);
    const response = await fetch("api/" + kind + "?" + params.toString());
    if (!response.ok) throw new Error(kind + ": HTTP " + response.status);
    return response.json();
  }

  // ---- tiny DOM helpers --------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else node.setAttribute(key, value); // only ever our own constant attribute names
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function fillSelect(select, items, selected) {
    select.replaceChildren();
    for (const [value, label] of items) {
      const option = document.createElement("option");
      option.value = value;
      option.text = label;
      select.appendChild(option);
    }
    if (items.some(([value]) => value === selected)) select.value = selected;
  }

  // ---- markdown, rendered as DOM nodes (raw HTML is never interpreted) --------
  function inline(text, parent) {
    const pattern = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\[[^\]\n]+\]\([^)\s]+\))/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      const token = match[0];
      if (match[1]) parent.appendChild(el("code", null, token.slice(1, -1)));
      else if (match[2]) parent.appendChild(el("strong", null, token.slice(2, -2)));
      else {
        // A link shows its text and its target as plain text: never clickable.
        const close = token.indexOf("](");
        parent.appendChild(el("span", { class: "link" }, token.slice(1, close)));
        parent.appendChild(document.createTextNode(" <" + token.slice(close + 2, -1) + ">"));
      }
      last = match.index + token.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function markdown(text) {
    const root = el("div", { class: "md" });
    // FastChat's qa_browser fixes: "•" bullets become list items.
    const lines = String(text || "").replace(/\r\n?/g, "\n").replace(/^(\s*)•\s*/gm, "$1- ").split("\n");
    let paragraph = [];
    let list = null;
    const flush = () => {
      if (paragraph.length) {
        const p = el("p");
        inline(paragraph.join("\n"), p);
        root.appendChild(p);
        paragraph = [];
      }
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (/^\s*```/.test(line)) {
        flush();
        list = null;
        const code = [];
        for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
        root.appendChild(el("pre", null, el("code", null, code.join("\n"))));
        continue;
      }
      const heading = /^(#{1,6})\s+(.*)$/.exec(line);
      const item = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line);
      if (heading) {
        flush();
        list = null;
        const h = el("h4");
        inline(heading[2], h);
        root.appendChild(h);
      } else if (item) {
        flush();
        const ordered = /\d/.test(item[1]);
        if (!list || list.ordered !== ordered) {
          list = { ordered, node: el(ordered ? "ol" : "ul") };
          root.appendChild(list.node);
        }
        const li = el("li");
        inline(item[2], li);
        list.node.appendChild(li);
      } else if (!line.trim()) {
        flush();
        list = null;
      } else {
        if (list && /^\s+/.test(line)) {
          inline(" " + line.trim(), list.node.lastChild);
          continue;
        }
        list = null;
        paragraph.push(line);
      }
    }
    flush();
    return root;
  }

  // ---- state and deep links ------------------------------------------------------
  const state = { view: "question", bench: "", cat: "", q: "", mode: "single", a: "", b: "", judges: "", log: "" };
  const VIEWS = ["question", "leaderboard", "agreement", "arena"];
  let index = null;
  let problems = []; // files the server could not read, as the last view reported them

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    for (const key of Object.keys(state)) if (params.has(key)) state[key] = params.get(key);
  }

  function writeHash() {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(state)) if (value) params.set(key, value);
    const hash = "#" + params.toString();
    if (location.hash !== hash) history.replaceState(null, "", hash);
  }

  const bench = () => index.benchmarks.find((b) => b.name === state.bench);
  const questionsInCategory = () => bench().questions.filter((q) => !state.cat || q.category === state.cat);

  function settle() {
    const benches = index.benchmarks;
    const logs = index.arena || [];
    if (!VIEWS.includes(state.view) || (state.view === "arena" && !logs.length)) state.view = "question";
    if (logs.length && !logs.includes(state.log)) state.log = logs[0];
    if (!benches.length) {
      // A data directory with battle logs only: the Arena ratings are all there is to show.
      if (!logs.length) return false;
      state.view = "arena";
      return true;
    }
    if (!bench()) state.bench = (benches.find((b) => b.name === "mt_bench") || benches[0]).name;
    const b = bench();
    if (state.cat && !b.categories.includes(state.cat)) state.cat = "";
    const qs = questionsInCategory();
    if (!qs.some((q) => q.id === state.q)) state.q = qs.length ? qs[0].id : "";
    // The user's own models first: the page is about what they work on.
    const own = (b.own_models || []).filter((m) => b.models.includes(m));
    if (!b.models.includes(state.a)) state.a = own[0] || b.models[0] || "";
    if (!b.models.includes(state.b) || state.b === state.a) state.b = b.models.find((m) => m !== state.a) || "";
    if (state.mode !== "pair") state.mode = "single";
    return true;
  }

  function syncControls() {
    const b = bench();
    const hasBench = b !== undefined;
    for (const id of ["nav-questions", "nav-leaderboard", "nav-agreement", "bench-label"]) $(id).classList.toggle("hidden", !hasBench);
    $("nav-arena").classList.toggle("hidden", !(index.arena || []).length);
    $("nav-arena").classList.toggle("active", state.view === "arena");
    $("controls").classList.toggle("hidden", state.view !== "question");
    if (!hasBench) return;
    fillSelect($("bench"), index.benchmarks.map((x) => [x.name, x.name]), state.bench);
    fillSelect($("category"), [["", "All categories"], ...b.categories.map((c) => [c, c])], state.cat);
    fillSelect($("question"), questionsInCategory().map((q) => [q.id, q.label]), state.q);
    fillSelect($("model-a"), b.models.map((m) => [m, m]), state.a);
    fillSelect($("model-b"), b.models.map((m) => [m, m]), state.b);
    $("mode-single").checked = state.mode === "single";
    $("mode-pair").checked = state.mode === "pair";
    $("model-b-label").classList.toggle("hidden", state.mode !== "pair");
    $("nav-questions").classList.toggle("active", state.view === "question");
    $("nav-leaderboard").classList.toggle("active", state.view === "leaderboard");
    $("nav-agreement").classList.toggle("active", state.view === "agreement");
  }

  async function render() {
    const view = $("view");
    if (!settle()) {
      view.replaceChildren(el("p", { class: "muted" }, "No benchmark here: the data directory has no <bench>/question.jsonl. Run `mtb download-baselines` first."));
      return;
    }
    syncControls();
    writeHash();
    const token = (render.token = (render.token || 0) + 1);
    try {
      if (state.view === "arena" && !EMBED) {
        // The first request rates the log (seconds for a large one): say so meanwhile.
        view.replaceChildren(el("p", { class: "muted", id: "arena-loading" }, "Rating " + state.log + " ..."));
      }
      const content = state.view === "leaderboard" ? await leaderboardView()
        : state.view === "agreement" ? await agreementView()
        : state.view === "arena" ? await arenaView() : await questionView();
      if (token !== render.token) return; // a newer selection has been rendered meanwhile
      view.replaceChildren(content, ...problems.map((p) => el("p", { class: "problems" }, "Skipped: " + p)));
    } catch (error) {
      view.replaceChildren(el("p", { class: "problems" }, String(error)));
    }
  }

  // ---- the question view -----------------------------------------------------------
  function scoreBadge(text, cls) {
    return el("span", { class: "score" + (cls ? " " + cls : "") }, String(text));
  }

  async function questionView() {
    const root = el("div", { id: "question-view" });
    if (!state.q) {
      problems = [];
      return el("p", { class: "muted" }, "No question in this category.");
    }
    const data = await api("question", state.bench, state.q);
    problems = data.problems || [];
    const question = data.question;
    const models = state.mode === "pair" ? [state.a, state.b] : [state.a];
    root.appendChild(el("h2", null, "Question " + question.id + " · " + question.category));
    question.turns.forEach((turnText, t) => {
      root.appendChild(el("h3", null, t === 0 ? "Turn 1: user" : "Turn " + (t + 1) + ": user's follow-up question"));
      root.appendChild(el("div", { class: "block user" }, markdown(turnText)));
      const row = el("div", { class: "row answers" });
      row.style.setProperty("--cols", String(models.length));
      models.forEach((model, i) => {
        const turns = (data.answers[model] || [])[t];
        const box = el("div", { class: "block answer " + (i === 0 ? "answer-a" : "answer-b"), "data-model": model, "data-turn": String(t + 1) });
        box.appendChild(el("h3", null, (models.length > 1 ? (i === 0 ? "Model A: " : "Model B: ") : "") + model));
        box.appendChild(turns === undefined ? el("p", { class: "muted" }, "N/A (no answer)") : markdown(turns));
        row.appendChild(box);
      });
      root.appendChild(row);
      const refs = Object.entries(data.references).filter(([, turns]) => turns[t] !== undefined);
      if (question.reference && question.reference[t]) refs.unshift(["question file", question.reference]);
      for (const [name, turns] of refs) {
        const ref = el("div", { class: "block ref" }, el("h3", null, "Reference solution (" + name + ")"), markdown(turns[t]));
        root.appendChild(ref);
      }
    });
    root.appendChild(judgmentSection(data, question));
    return root;
  }

  function judgmentSection(data, question) {
    const section = el("section", { id: "judgments" }, el("h2", null, "Judgments"));
    let shown = 0;
    const turns = Math.max(question.turns.length, 1);
    for (let turn = 1; turn <= turns; turn++) {
      if (state.mode === "single") {
        for (const j of data.single.filter((x) => x.model === state.a && Number(x.turn) === turn)) {
          shown++;
          section.appendChild(el("div", { class: "block judge single", "data-turn": String(turn) },
            el("h3", null, "Turn " + turn + " · judge " + j.judge + (j.prompt ? " (" + j.prompt + ")" : "") + " · " + j.model, scoreBadge("Score: " + j.score)),
            markdown(j.judgment)));
        }
      } else {
        for (const j of data.pair.filter((x) => Number(x.turn) === turn && ((x.model_1 === state.a && x.model_2 === state.b) || (x.model_1 === state.b && x.model_2 === state.a)))) {
          shown++;
          const name = (w) => (w === "model_1" ? j.model_1 : w === "model_2" ? j.model_2 : w);
          section.appendChild(el("div", { class: "block judge pair", "data-turn": String(turn) },
            el("h3", null, "Turn " + turn + " · judge " + j.judge + (j.prompt ? " (" + j.prompt + ")" : "")),
            el("h3", null, "Game 1. A: " + j.model_1 + ", B: " + j.model_2, scoreBadge("Winner: " + name(j.g1_winner))),
            markdown(j.g1_judgment),
            el("h3", null, "Game 2. A: " + j.model_2 + ", B: " + j.model_1, scoreBadge("Winner: " + name(j.g2_winner))),
            markdown(j.g2_judgment)));
        }
      }
    }
    // Arena-Hard: each model is judged against the baseline in two games.
    const baseline = data.baseline || "baseline";
    const gameModels = state.mode === "pair" ? [state.a, state.b] : [state.a];
    for (const j of data.games.filter((x) => gameModels.includes(x.model))) {
      const box = el("div", { class: "block judge games" }, el("h3", null, "Judge " + j.judge + " · " + j.model + " against " + baseline));
      j.games.forEach((game, g) => {
        shown++;
        const roles = g === 0 ? "A: " + baseline + ", B: " + j.model : "A: " + j.model + ", B: " + baseline;
        box.appendChild(el("h3", null, "Game " + (g + 1) + ". " + roles, scoreBadge("Verdict: " + game.score)));
        box.appendChild(markdown(game.judgment));
      });
      section.appendChild(box);
    }
    if (!shown) section.appendChild(el("p", { class: "muted" }, "N/A: no judgment of " + (state.mode === "pair" ? state.a + " vs " + state.b : state.a) + " for this question."));
    return section;
  }

  // ---- the leaderboard view ------------------------------------------------------------
  const fmt = (v) => (typeof v === "number" ? v.toFixed(2) : v === null || v === undefined ? "-" : String(v));

  function table(header, rows) {
    return el("table", null,
      el("thead", null, el("tr", null, ...header.map((h) => el("th", null, h)))),
      el("tbody", null, ...rows.map((r) => el("tr", null, ...r.map((c) => el("td", null, fmt(c)))))));
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    for (const c of children) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    return node;
  }

  function radar(categories, rows) {
    const size = 520, c = size / 2, r = 180;
    const point = (i, v) => {
      const angle = -Math.PI / 2 + (2 * Math.PI * i) / categories.length;
      return [c + (r * v * Math.cos(angle)) / 10, c + (r * v * Math.sin(angle)) / 10];
    };
    const root = svg("svg", { viewBox: "0 0 " + size + " " + size, role: "img", id: "radar" }, svg("title", {}, "Mean score by category, 0-10"));
    for (const level of [2, 4, 6, 8, 10]) {
      root.appendChild(svg("polygon", { points: categories.map((_, i) => point(i, level).join(",")).join(" "), fill: "none", stroke: "#d9dde3" }));
    }
    categories.forEach((name, i) => {
      const [x, y] = point(i, 10);
      const [lx, ly] = point(i, 11.6);
      root.appendChild(svg("line", { x1: c, y1: c, x2: x, y2: y, stroke: "#d9dde3" }));
      root.appendChild(svg("text", { x: lx, y: ly, "text-anchor": "middle", "dominant-baseline": "middle", "font-size": 13 }, name));
    });
    rows.slice(0, RADAR_MAX_MODELS).forEach((row, n) => {
      const color = COLORS[n % COLORS.length];
      const pts = categories.map((cat, i) => point(i, row.categories[cat] || 0).join(",")).join(" ");
      root.appendChild(svg("polygon", { points: pts, fill: color, "fill-opacity": 0.08, stroke: color, "stroke-width": 2, class: "trace", "data-model": row.model }, svg("title", {}, row.model + " (" + fmt(row.average) + ")")));
    });
    const legend = el("div", { class: "legend" });
    rows.slice(0, RADAR_MAX_MODELS).forEach((row, n) => {
      const swatch = el("i");
      swatch.style.background = COLORS[n % COLORS.length];
      legend.appendChild(el("span", null, swatch, row.model + " (" + fmt(row.average) + ")"));
    });
    const note = rows.length > RADAR_MAX_MODELS ? el("p", { class: "muted" }, "The chart shows the " + RADAR_MAX_MODELS + " best of " + rows.length + " models.") : null;
    return el("div", { class: "radar" }, root, legend, note);
  }

  // The 95% interval of a row's average, "6.80–7.43", or "-".
  const interval = (r) => (r.ci && r.ci.average ? fmt(r.ci.average[0]) + "–" + fmt(r.ci.average[1]) : "-");

  // A button per eval summary that names the model; the summary shows below the table, as text.
  function summaryLinks(model, summaries, target) {
    const cell = el("td", { class: "summaries" });
    summaries.filter((s) => s.models.includes(model)).forEach((s) => {
      const button = el("button", { type: "button", class: "summary-link", title: s.file }, s.started || s.file);
      button.addEventListener("click", () => {
        target.replaceChildren(el("h3", null, "Eval summary · " + s.file), markdown(s.markdown));
        target.scrollIntoView();
      });
      cell.appendChild(button);
    });
    return cell;
  }

  async function leaderboardView() {
    const data = await api("leaderboard", state.bench);
    problems = data.problems || [];
    const root = el("div", { id: "leaderboard-view" }, el("h2", null, "Leaderboard · " + state.bench));
    const own = new Set((bench().own_models || []));
    const summaries = data.summaries || [];
    const shown = el("div", { id: "summary-view", class: "block" + (summaries.length ? "" : " hidden") },
      el("p", { class: "muted" }, "Pick an eval summary in the table to read it here."));
    for (const t of data.single) {
      root.appendChild(el("h3", null, "Single grading by " + t.judge + " (" + t.file + ")"));
      const turnCols = Array.from({ length: t.turns }, (_, i) => "turn_" + (i + 1));
      const header = ["model", ...turnCols, "average", "95% interval", "judgments", "excluded", "eval summary"];
      const body = el("tbody");
      for (const r of t.rows) {
        const cells = [r.model, ...turnCols.map((k) => r[k]), r.average, interval(r), String(r.judgments), String(r.excluded)];
        const row = el("tr", { class: own.has(r.model) ? "own" : "", "data-model": r.model }, ...cells.map((c) => el("td", null, fmt(c))));
        row.appendChild(summaryLinks(r.model, summaries, shown));
        body.appendChild(row);
      }
      root.appendChild(el("table", { class: "single-table" }, el("thead", null, el("tr", null, ...header.map((h) => el("th", null, h)))), body));
      if (t.categories.length >= 3) root.appendChild(radar(t.categories, t.rows));
      root.appendChild(el("h3", null, "Mean score by category"));
      root.appendChild(table(["model", ...t.categories], t.rows.map((r) => [r.model, ...t.categories.map((c) => r.categories[c])])));
    }
    if (data.published) {
      root.appendChild(el("h3", null, "Published leaderboard (" + data.published.file + ")"));
      root.appendChild(table(data.published.header, data.published.rows));
    }
    if (!data.single.length && !data.published) root.appendChild(el("p", { class: "muted" }, "No single-grading judgments here yet (model_judgment/<judge>_single.jsonl)."));
    root.appendChild(shown);
    return root;
  }

  // ---- the judge-agreement view: two judges, their agreement, and where they disagree ----------
  async function agreementView() {
    const data = await api("agreement", state.bench);
    problems = data.problems || [];
    const root = el("div", { id: "agreement-view" }, el("h2", null, "Judge agreement · " + state.bench));
    const pairs = data.pairs.filter((p) => p.judge_1 !== p.judge_2);
    if (!pairs.length) {
      root.appendChild(el("p", { class: "muted" }, "Two judges are needed: pairwise judgments (model_judgment/<judge>_pair.jsonl) of two judges, or one and human_judgments.json (or .jsonl, .parquet) in the benchmark folder."));
      return root;
    }
    const name = (p) => p.judge_1 + " vs " + p.judge_2;
    let chosen = pairs.find((p) => name(p) === state.judges) || pairs[0];
    state.judges = name(chosen);
    writeHash();
    const select = el("select", { id: "judge-pair" });
    fillSelect(select, pairs.map((p) => [name(p), name(p)]), state.judges);
    select.addEventListener("change", (e) => { state.judges = e.target.value; render(); });
    root.appendChild(el("label", null, "Judges ", select));
    root.appendChild(el("h3", null, "Agreement (with ties: S1; without ties: S2)"));
    const rows = [...chosen.rows, ...data.pairs.filter((p) => p.judge_1 === p.judge_2 && (p.judge_1 === chosen.judge_1 || p.judge_1 === chosen.judge_2)).flatMap((p) => p.rows)];
    root.appendChild(table(["judge_1", "judge_2", "turn", "ties", "agree", "total", "ratio"],
      rows.map((r) => [r.judge_1, r.judge_2, String(r.turn), r.ties, String(r.agree), String(r.total), r.ratio])));
    root.appendChild(el("h3", null, chosen.disagreements.length + " match(es) where " + chosen.judge_1 + " and " + chosen.judge_2 + " disagree"));
    const labels = new Map(bench().questions.map((q) => [q.id, q.label]));
    const verdict = (d, w) => (w === "model_a" ? d.model_a : w === "model_b" ? d.model_b : w);
    for (const d of chosen.disagreements) {
      const box = el("div", { class: "block disagreement", "data-question": d.question_id, "data-turn": String(d.turn) },
        el("h3", null, "Question " + d.question_id + " · turn " + d.turn + " · " + d.model_a + " vs " + d.model_b),
        el("p", { class: "muted" }, labels.get(d.question_id) || ""));
      const row = el("div", { class: "row answers" });
      row.style.setProperty("--cols", "2");
      [[chosen.judge_1, d.votes_1], [chosen.judge_2, d.votes_2]].forEach(([judge, votes], i) => {
        row.appendChild(el("div", { class: "block judge side-" + (i + 1) },
          el("h3", null, judge), ...votes.map((w) => scoreBadge("Winner: " + verdict(d, w)))));
      });
      box.appendChild(row);
      box.addEventListener("click", () => { state.view = "question"; state.q = d.question_id; state.cat = ""; state.mode = "pair"; state.a = d.model_a; state.b = d.model_b; render(); });
      root.appendChild(box);
    }
    return root;
  }

  // ---- the Arena ratings view: Bradley–Terry ratings of a battle log, with 95% intervals ----------
  const one = (v) => (typeof v === "number" ? v.toFixed(1) : "-");

  // One row's interval on the scale shared by all rows: a bar from ci_low to ci_high, a dot at the rating.
  function intervalBar(row, lo, hi) {
    const width = 260, height = 16, pad = 6;
    const x = (v) => pad + ((v - lo) / (hi - lo || 1)) * (width - 2 * pad);
    const label = row.model + ": " + one(row.rating) + (row.ci_low === null ? "" : " (" + one(row.ci_low) + " to " + one(row.ci_high) + ")");
    const root = svg("svg", { viewBox: "0 0 " + width + " " + height, width, height, role: "img", class: "interval", "data-model": row.model }, svg("title", {}, label));
    root.appendChild(svg("line", { x1: pad, y1: height / 2, x2: width - pad, y2: height / 2, stroke: "#d9dde3" }));
    if (row.ci_low !== null && row.ci_high !== null) {
      root.appendChild(svg("rect", { class: "ci", x: x(row.ci_low), y: height / 2 - 4, width: Math.max(x(row.ci_high) - x(row.ci_low), 1), height: 8, rx: 2, fill: "#9db7dc" }));
    }
    root.appendChild(svg("circle", { class: "point", cx: x(row.rating), cy: height / 2, r: 3.5, fill: "#1d4f91" }));
    return root;
  }

  async function arenaView() {
    const logs = index.arena || [];
    const data = await api("arena", undefined, state.log);
    problems = data.problems || [];
    const root = el("div", { id: "arena-view" }, el("h2", null, "Arena ratings · " + data.file));
    if (logs.length > 1) {
      const select = el("select", { id: "arena-log" });
      fillSelect(select, logs.map((l) => [l, l]), state.log);
      select.addEventListener("change", (e) => { state.log = e.target.value; render(); });
      root.appendChild(el("label", null, "Battle log ", select));
    }
    if (!data.rows.length) {
      root.appendChild(el("p", { class: "muted" }, "No ratings: this battle log could not be rated."));
      return root;
    }
    root.appendChild(el("p", { class: "muted" }, data.title));
    for (const note of data.notes || []) root.appendChild(el("p", { class: "muted note" }, note));
    const values = data.rows.flatMap((r) => [r.rating, r.ci_low, r.ci_high]).filter((v) => typeof v === "number");
    const lo = Math.min(...values), hi = Math.max(...values);
    const header = ["model", "rating", "95% CI", "interval (" + one(lo) + " to " + one(hi) + ")", "rank", "battles", "online_elo"];
    const body = el("tbody");
    for (const r of data.rows) {
      const ci = r.ci_low === null ? "-" : one(r.ci_low) + " to " + one(r.ci_high);
      body.appendChild(el("tr", { "data-model": r.model },
        el("td", null, r.model), el("td", null, one(r.rating)), el("td", null, ci),
        el("td", { class: "bar" }, intervalBar(r, lo, hi)), el("td", null, r.rank === null ? "-" : String(r.rank)),
        el("td", null, String(r.battles)), el("td", null, one(r.online_elo))));
    }
    root.appendChild(el("table", { id: "arena-table" }, el("thead", null, el("tr", null, ...header.map((h) => el("th", null, h)))), body));
    return root;
  }

  // ---- wiring -----------------------------------------------------------------------------
  function on(id, event, handler) {
    $(id).addEventListener(event, (e) => { handler(e); render(); });
  }
  on("bench", "change", (e) => { state.bench = e.target.value; state.cat = ""; state.q = ""; });
  on("category", "change", (e) => { state.cat = e.target.value; state.q = ""; });
  on("question", "change", (e) => { state.q = e.target.value; });
  on("model-a", "change", (e) => { state.a = e.target.value; });
  on("model-b", "change", (e) => { state.b = e.target.value; });
  on("mode-single", "change", () => { state.mode = "single"; });
  on("mode-pair", "change", () => { state.mode = "pair"; });
  on("nav-questions", "click", () => { state.view = "question"; });
  on("nav-leaderboard", "click", () => { state.view = "leaderboard"; });
  on("nav-agreement", "click", () => { state.view = "agreement"; });
  on("nav-arena", "click", () => { state.view = "arena"; });
  const step = (delta) => () => {
    const qs = questionsInCategory();
    const at = qs.findIndex((q) => q.id === state.q);
    state.q = qs[(at + delta + qs.length) % qs.length].id;
  };
  on("prev", "click", step(-1));
  on("next", "click", step(1));
  window.addEventListener("hashchange", () => { readHash(); render(); });

  api("index").then((data) => {
    index = data;
    // Without a link to follow, the page opens on the newest model of the user's own runs.
    if (index.focus && !location.hash) {
      state.bench = index.focus.bench;
      state.a = index.focus.model;
    }
    readHash();
    return render();
  }).catch((error) => $("view").replaceChildren(el("p", { class: "problems" }, String(error))));
})();
