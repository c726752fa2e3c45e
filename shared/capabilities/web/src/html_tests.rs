//! Unit tests of the HTML reducer.

use super::*;

fn text(html: &str) -> String {
    reduce(html, None).text
}

#[test]
fn hidden_content_is_dropped() {
    let html = r#"<html><head><title>T</title><meta charset="utf-8"><style>p { color: red }</style>
        <script>var x = "<p>not text</p>";</script></head>
        <body><noscript>enable js</noscript><p>Visible</p><script type="module">if (a < b) {}</script>
        <svg><text>chart</text></svg><template><p>later</p></template>end</body></html>"#;
    assert_eq!(text(html), "Visible\n\nend");
}

#[test]
fn blocks_become_line_breaks() {
    let html = "<h1>Title</h1><p>One\n   two</p><div>three</div>four<br>five<ul><li>a</li><li>b</li></ul>\
                <h3>Sub</h3><table><tr><td>x</td><td>y</td></tr><tr><td>z</td></tr></table>";
    assert_eq!(text(html), "# Title\n\nOne two\n\nthree\nfour\nfive\n- a\n- b\n\n### Sub\n\nx y\nz");
}

#[test]
fn inline_elements_keep_words_apart_only_where_the_source_does() {
    assert_eq!(text("<p>Hello <b>bold</b><i>ital</i> <span>world</span>!</p>"), "Hello boldital world!");
    assert_eq!(text("  lots \t of \n\n space  "), "lots of space");
}

#[test]
fn links_keep_their_text_and_target() {
    let base = Url::parse("https://example.com/docs/page.html").ok();
    let html = r##"<p>See <a href="/about">the about page</a>, <a href='next.html'>next</a>,
        <a href="#top">top</a>, <a href="javascript:void(0)">js</a> and <a>bare</a>.</p>
        <a href="https://x.test/"><img src="logo.png"></a><a href="https://y.test/">https://y.test/</a>"##;
    assert_eq!(
        reduce(html, base.as_ref()).text,
        "See [the about page](https://example.com/about), [next](https://example.com/docs/next.html), \
         top, js and bare.\n\nhttps://y.test/"
    );
    assert_eq!(text(r#"<a HREF=/x class=big>go</a>"#), "[go](/x)");
}

#[test]
fn entities_are_decoded_in_text_and_attributes() {
    assert_eq!(
        text("<p>Fish &amp; chips &lt;3 &quot;yum&quot; it&#39;s&nbsp;&#8364;5</p>"),
        "Fish & chips <3 \"yum\" it's €5"
    );
    assert_eq!(text(r#"<a href="/q?a=1&amp;b=2">q</a>"#), "[q](/q?a=1&b=2)");
}

#[test]
fn the_title_is_apart() {
    let reduced = reduce("<title>\n  My &amp; Page </title><body>Body</body>", None);
    assert_eq!(reduced.title.as_deref(), Some("My & Page"));
    assert_eq!(reduced.text, "Body");
    assert_eq!(reduce("<title> </title>x", None).title, None);
}

#[test]
fn pre_keeps_its_whitespace() {
    assert_eq!(
        text("<p>code:</p><pre>fn main() {\n    x();\n}</pre><p>after</p>"),
        "code:\n\nfn main() {\n    x();\n}\n\nafter"
    );
}

#[test]
fn malformed_markup_degrades_to_text() {
    assert_eq!(text("a < b and c > d"), "a < b and c > d");
    assert_eq!(text("<!-- note --><!DOCTYPE html><?xml x?>ok<!-- unterminated"), "ok");
    assert_eq!(text("<p>open <b>never closed"), "open never closed");
    assert_eq!(text("<script>never closed"), "");
    assert_eq!(text(r#"<div title="a > b">kept</div>"#), "kept");
    assert_eq!(text("<p>unterminated tag <a href=\"x"), "unterminated tag");
    assert_eq!(text("é<p>ü</p>日本"), "é\n\nü\n\n日本");
}
