extension InspectorPage {
    /// `…/inspector/app.css`. Text colours meet WCAG AA (4.5:1) on the backgrounds they are used on, in both
    /// schemes; the browser suite computes the ratios from these custom properties.
    static let style = #"""
        :root {
          color-scheme: light dark;
          --bg: #f5f6f8;
          --surface: #ffffff;
          --border: #d5dae1;
          --text: #1b2330;
          --text-muted: #4d5969;
          --accent-text: #1a5bb8;
          --focus: #1a5bb8;
          --row-selected: #e6eefa;
          --ok-text: #126a2c;
          --ok-bg: #e2f3e7;
          --bad-text: #a1121b;
          --bad-bg: #fde7e7;
          --warn-text: #774800;
          --warn-bg: #fcf0d6;
          --neutral-text: #3b4552;
          --neutral-bg: #eaedf1;
          --chart-ok: #5b8fd6;
          --chart-bad: #d0343c;
          --mono: ui-monospace, "SF Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace;
        }
        @media (prefers-color-scheme: dark) {
          :root {
            --bg: #0f1419;
            --surface: #161c23;
            --border: #2c3540;
            --text: #e5e9ee;
            --text-muted: #a2acb9;
            --accent-text: #7db3ff;
            --focus: #7db3ff;
            --row-selected: #1d2a3b;
            --ok-text: #7fe0a0;
            --ok-bg: #0f2d1a;
            --bad-text: #ff9d9d;
            --bad-bg: #3a1417;
            --warn-text: #f3c76a;
            --warn-bg: #32250b;
            --neutral-text: #c4cbd5;
            --neutral-bg: #252d37;
            --chart-ok: #5b8fd6;
            --chart-bad: #e5545b;
          }
        }
        * { box-sizing: border-box; }
        html { background: var(--bg); color: var(--text); }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
        .bar { display: flex; align-items: baseline; justify-content: space-between; gap: 1rem;
          padding: 0.9rem 1.5rem; background: var(--surface); border-bottom: 1px solid var(--border); }
        h1 { margin: 0; font-size: 1.1rem; font-weight: 650; letter-spacing: 0.01em; }
        h1 .subtle { color: var(--text-muted); font-weight: 500; }
        .connection { margin: 0; color: var(--text-muted); }
        .connection.live::before { content: "● "; color: var(--ok-text); }
        .connection.down::before { content: "● "; color: var(--bad-text); }
        main { padding: 1rem 1.5rem 2rem; }
        .overview { display: grid; grid-template-columns: auto auto 1fr; gap: 1rem; align-items: stretch; }
        .stat { background: var(--surface); border: 1px solid var(--border); border-radius: 8px; padding: 0.6rem 1rem;
          min-width: 11rem; display: flex; flex-direction: column; }
        .stat .label { color: var(--text-muted); font-size: 0.8rem; }
        .stat .value { font-size: 1.5rem; font-weight: 650; font-variant-numeric: tabular-nums; }
        .chart { background: var(--surface); border: 1px solid var(--border); border-radius: 8px; padding: 0.5rem;
          min-height: 4.5rem; }
        .chart svg { display: block; width: 100%; height: 3.5rem; }
        .chart .ok { fill: var(--chart-ok); }
        .chart .bad { fill: var(--chart-bad); }
        .chart .axis { stroke: var(--border); }
        .filters { display: flex; flex-wrap: wrap; align-items: center; gap: 1rem; margin: 1rem 0 0.6rem; }
        .filters label { color: var(--text-muted); font-size: 0.85rem; }
        select { margin-left: 0.35rem; font: inherit; color: var(--text); background: var(--surface);
          border: 1px solid var(--border); border-radius: 6px; padding: 0.2rem 0.4rem; }
        .count { margin-left: auto; color: var(--text-muted); font-size: 0.85rem; }
        .layout { display: grid; grid-template-columns: minmax(0, 1fr); gap: 1rem; align-items: start; }
        .layout.open { grid-template-columns: minmax(0, 1.2fr) minmax(22rem, 1fr); }
        .layout.open .origin, .layout.open .duration, .layout.open .fault { display: none; }
        .list-wrap { background: var(--surface); border: 1px solid var(--border); border-radius: 8px; overflow: auto;
          max-height: calc(100vh - 15rem); }
        table.list { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
        .list th { position: sticky; top: 0; background: var(--surface); text-align: left; font-weight: 600;
          color: var(--text-muted); font-size: 0.78rem; text-transform: uppercase; letter-spacing: 0.04em;
          padding: 0.5rem 0.75rem; border-bottom: 1px solid var(--border); }
        .list td { padding: 0.42rem 0.75rem; border-bottom: 1px solid var(--border); white-space: nowrap; }
        /* The path takes the width the other columns leave (max-width 0 lets the table shrink it): the list
           fits its box, closed or beside the detail, and scrolls sideways only below 8rem of path. */
        .list td.path { font-family: var(--mono); font-size: 0.85rem; width: 100%; max-width: 0; min-width: 8rem;
          overflow: hidden; text-overflow: ellipsis; }
        .list td.origin { color: var(--text-muted); max-width: 14rem; overflow: hidden; text-overflow: ellipsis; }
        .list .num { text-align: right; }
        .list tbody tr { cursor: pointer; }
        .list tbody tr:hover { background: var(--row-selected); }
        .list tbody tr[aria-selected="true"] { background: var(--row-selected); }
        .list tbody tr:focus { outline: none; }
        .list tbody tr:focus-visible { outline: 2px solid var(--focus); outline-offset: -2px; }
        :focus-visible { outline: 2px solid var(--focus); outline-offset: 2px; }
        .badge { display: inline-block; padding: 0.05rem 0.5rem; border-radius: 999px; font-size: 0.8rem;
          font-weight: 600; background: var(--neutral-bg); color: var(--neutral-text); }
        .badge.allowed { background: var(--ok-bg); color: var(--ok-text); }
        .badge.blocked { background: var(--bad-bg); color: var(--bad-text); }
        .badge.would-block, .badge.fault { background: var(--warn-bg); color: var(--warn-text); }
        .status-4, .status-5 { color: var(--bad-text); font-weight: 600; }
        .empty, .hint { color: var(--text-muted); padding: 0.5rem 0.75rem; margin: 0; }
        .hint { font-size: 0.8rem; border-top: 1px solid var(--border); }
        .detail { background: var(--surface); border: 1px solid var(--border); border-radius: 8px; padding: 1rem 1.1rem;
          max-height: calc(100vh - 15rem); overflow: auto; }
        .detail:focus { outline: none; }
        .detail header { display: flex; justify-content: space-between; align-items: start; gap: 0.5rem; }
        .detail h2 { margin: 0; font-size: 1rem; font-family: var(--mono); word-break: break-all; }
        .detail h3 { margin: 1.1rem 0 0.4rem; font-size: 0.78rem; text-transform: uppercase; letter-spacing: 0.04em;
          color: var(--text-muted); }
        .detail dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 0.9rem; margin: 0; }
        .detail dt { color: var(--text-muted); }
        .detail dd { margin: 0; word-break: break-word; }
        .message { margin: 0.3rem 0; padding: 0.55rem 0.7rem; border-radius: 6px; background: var(--bad-bg);
          color: var(--bad-text); font-family: var(--mono); font-size: 0.82rem; white-space: pre-wrap; }
        .message .who { display: block; font-family: system-ui, sans-serif; font-weight: 600; font-size: 0.75rem; }
        .fix { margin: 0.3rem 0; padding: 0.55rem 0.7rem; border-radius: 6px; background: var(--ok-bg);
          color: var(--ok-text); }
        pre.command { margin: 0.3rem 0; padding: 0.55rem 0.7rem; border-radius: 6px; background: var(--neutral-bg);
          color: var(--neutral-text); font-family: var(--mono); font-size: 0.8rem; white-space: pre-wrap;
          word-break: break-all; }
        table.headers { width: 100%; border-collapse: collapse; font-family: var(--mono); font-size: 0.8rem; }
        .headers td { padding: 0.2rem 0.4rem; border-bottom: 1px solid var(--border); vertical-align: top;
          word-break: break-all; }
        .headers td:first-child { color: var(--text-muted); white-space: nowrap; width: 1%; }
        button { font: inherit; font-size: 0.85rem; color: var(--accent-text); background: var(--surface);
          border: 1px solid var(--border); border-radius: 6px; padding: 0.2rem 0.65rem; cursor: pointer; }
        button:hover { border-color: var(--focus); }
        .actions { display: flex; gap: 0.5rem; align-items: center; margin-top: 0.3rem; }
        .copied { color: var(--text-muted); font-size: 0.8rem; }
        @media (max-width: 900px) {
          .overview { grid-template-columns: 1fr 1fr; }
          .chart { grid-column: 1 / -1; }
          .layout.open { grid-template-columns: minmax(0, 1fr); }
        }

        """#
}
