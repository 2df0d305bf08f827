//! The timeline as one self-contained HTML page: inline CSS
//! (`timeline.css`) and JS (`timeline.js`), the model embedded as JSON in
//! a `<script type="application/json">` tag, no network, no library. It
//! opens offline from a CI artefact or a bug report.
//!
//! The page says whether it drew: `document.body.dataset.rendered = "ok"`
//! once drawn, `document.body.dataset.error` if a script failed, and each
//! lane carries `data-node="nN"`, so a headless browser can check it
//! (`sim/tests/timeline_browser.rs`).

use super::timeline::Timeline;

/// Height samples per node: a few per pixel of a wide screen; a 1 h run
/// (36,000 blocks per node) stays a small file.
pub const MAX_HEIGHT_POINTS: usize = 2_000;

const CSS: &str = include_str!("timeline.css");
const JS: &str = include_str!("timeline.js");

/// The page of `model`, headed `title`.
pub fn render(model: &Timeline, title: &str) -> String {
    // Serialising plain strings and numbers cannot fail.
    let json = serde_json::to_string(model).expect("the timeline model serialises");
    let title = escape_html(title);
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · timeline</title>
<style>
{CSS}</style>
</head>
<body>
<script>
window.onerror = function (message, source, line, column, error) {{
  document.body.dataset.error = String(message) + " (line " + line + ":" + column + ")";
}};
</script>
<h1 id="title">{title}</h1>
<div id="banner"></div>
<div id="controls">
  <button id="zoom-in" title="zoom in (or wheel up over the chart)">+</button>
  <button id="zoom-out" title="zoom out (or wheel down)">&minus;</button>
  <button id="zoom-reset" title="show the whole run">whole run</button>
  <span id="window"></span>
  <span class="hint">wheel: zoom at the pointer · drag: pan · hover: details · click an event below: go there · the address keeps the window (#from=…&amp;to=…)</span>
</div>
<div id="legend"></div>
<div id="chart"></div>
<div id="tip" hidden></div>
<div id="events"></div>
<noscript>This page draws the run with JavaScript; the model is the JSON in its source.</noscript>
<script type="application/json" id="model">{json}</script>
<script>
{JS}</script>
</body>
</html>
"#,
        json = script_safe_json(&json),
    )
}

/// JSON that cannot end its `<script>` element or open a comment in it:
/// `<`, `>` and `&` only occur inside JSON strings, where `\u003c` and
/// friends mean the same characters to `JSON.parse`. U+2028 and U+2029
/// are escaped too, for tools that read the JSON as JavaScript.
pub fn script_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
