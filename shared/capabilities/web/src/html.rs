//! A small hand-written HTML-to-text reducer (no DOM, no html5ever): it drops what a reader does
//! not see (`script`, `style`, `noscript`, `template`, `svg`, the `head`), turns block elements
//! into line breaks (paragraphs and headings into blank lines, list items into `- ` lines,
//! headings with `#` marks), keeps link text as `[text](href)` with the href resolved against the
//! page, decodes character references and collapses whitespace (kept inside `pre`). The first
//! `title` is returned apart. Malformed markup degrades to more text, never to an error.

use url::Url;

use crate::entities::decode;

/// A page reduced to text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reduced {
    /// The first `<title>`, whitespace collapsed (none when missing or empty).
    pub title: Option<String>,
    /// The readable text.
    pub text: String,
}

/// Elements whose content is never shown: skipped up to their end tag.
const HIDDEN: [&str; 7] = ["script", "style", "noscript", "template", "svg", "iframe", "object"];
/// Elements that start and end a line.
const LINE: [&str; 22] = [
    "div",
    "li",
    "tr",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "main",
    "aside",
    "form",
    "figcaption",
    "summary",
];
/// Elements that stand apart with a blank line.
const PARAGRAPH: [&str; 8] = ["p", "blockquote", "pre", "hr", "figure", "details", "address", "fieldset"];

/// Reduces `html` to readable text; relative link targets are resolved against `base`.
pub fn reduce(html: &str, base: Option<&Url>) -> Reduced {
    let lower = html.to_ascii_lowercase();
    let mut out = Writer::default();
    let mut title = None;
    let mut in_head = false;
    let mut pre = 0usize;
    let mut links: Vec<(usize, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < html.len() {
        let Some(lt) = html[i..].find('<').map(|p| i + p) else {
            out.text(&decode(&html[i..]), pre > 0);
            break;
        };
        if !in_head {
            out.text(&decode(&html[i..lt]), pre > 0);
        }
        let rest = &lower[lt..];
        if rest.starts_with("<!--") {
            i = lower[lt + 4..].find("-->").map_or(html.len(), |p| lt + 4 + p + 3);
            continue;
        }
        let next = rest.as_bytes().get(1).copied();
        if matches!(next, Some(b'!' | b'?')) {
            i = lower[lt..].find('>').map_or(html.len(), |p| lt + p + 1);
            continue;
        }
        let closing = next == Some(b'/');
        let name_start = lt + 1 + usize::from(closing);
        if !lower.as_bytes().get(name_start).is_some_and(u8::is_ascii_alphabetic) {
            if !in_head {
                out.text("<", pre > 0);
            }
            i = lt + 1;
            continue;
        }
        let tag = Tag::parse(html, &lower, name_start);
        i = tag.end;
        let name = tag.name.as_str();
        if closing {
            match name {
                "head" => in_head = false,
                "a" => {
                    if let Some((mark, href)) = links.pop() {
                        out.link(mark, href.as_deref(), base);
                    }
                }
                "pre" => {
                    pre = pre.saturating_sub(1);
                    out.breaks(2);
                }
                "br" => out.breaks(1),
                _ => out.breaks(block_breaks(name)),
            }
            continue;
        }
        match name {
            _ if HIDDEN.contains(&name) && !tag.self_closing => i = skip_to_end(&lower, i, name),
            "title" => {
                let end = lower[i..].find("</title").map_or(html.len(), |p| i + p);
                if title.is_none() {
                    let text = decode(&html[i..end]).split_whitespace().collect::<Vec<_>>().join(" ");
                    title = Some(text).filter(|t| !t.is_empty());
                }
                i = skip_to_end(&lower, i, "title");
            }
            "head" => in_head = true,
            "body" => in_head = false,
            _ if in_head => {}
            "br" => out.breaks(1),
            "a" => links.push((out.mark(), tag.attr(html, "href"))),
            "li" => {
                out.breaks(1);
                out.text("- ", false);
            }
            "pre" => {
                out.breaks(2);
                pre += 1;
            }
            "td" | "th" => out.text(" ", false),
            _ if heading_level(name).is_some() => {
                out.breaks(2);
                out.text(&format!("{} ", "#".repeat(heading_level(name).unwrap_or(1))), false);
            }
            _ => out.breaks(block_breaks(name)),
        }
    }
    Reduced { title, text: out.finish() }
}

/// How many line breaks an element's start or end makes (0 for inline elements).
fn block_breaks(name: &str) -> u8 {
    if PARAGRAPH.contains(&name) || heading_level(name).is_some() {
        2
    } else if LINE.contains(&name) {
        1
    } else {
        0
    }
}

fn heading_level(name: &str) -> Option<usize> {
    match name.as_bytes() {
        [b'h', level @ b'1'..=b'6'] => Some(usize::from(level - b'0')),
        _ => None,
    }
}

/// The index just past `</name ...>` at or after `from` (the end of the text when missing).
fn skip_to_end(lower: &str, from: usize, name: &str) -> usize {
    let close = format!("</{name}");
    let Some(at) = lower[from..].find(&close).map(|p| from + p) else {
        return lower.len();
    };
    lower[at..].find('>').map_or(lower.len(), |p| at + p + 1)
}

/// A start or end tag: its lowercase name, where its attributes are, and where it ends.
struct Tag {
    name: String,
    attrs: (usize, usize),
    self_closing: bool,
    end: usize,
}

impl Tag {
    /// Parses the tag whose name starts at `name_start`; `>` inside quoted values does not end it.
    fn parse(html: &str, lower: &str, name_start: usize) -> Self {
        let bytes = lower.as_bytes();
        let mut at = name_start;
        while bytes.get(at).is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'_')) {
            at += 1;
        }
        let name = lower[name_start..at].to_owned();
        let attrs_start = at;
        let mut quote = None;
        while let Some(&b) = bytes.get(at) {
            match (quote, b) {
                (None, b'"' | b'\'') => quote = Some(b),
                (Some(q), _) if q == b => quote = None,
                (None, b'>') => break,
                _ => {}
            }
            at += 1;
        }
        let attrs_end = at.min(html.len());
        let self_closing = html[attrs_start..attrs_end].trim_end().ends_with('/');
        Self { name, attrs: (attrs_start, attrs_end), self_closing, end: (at + 1).min(html.len()) }
    }

    /// The decoded value of attribute `wanted` (case-insensitive name).
    fn attr(&self, html: &str, wanted: &str) -> Option<String> {
        let text = &html[self.attrs.0..self.attrs.1];
        let mut rest = text;
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
            if rest.is_empty() {
                return None;
            }
            let name_end = rest.find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/').unwrap_or(rest.len());
            let name = &rest[..name_end];
            rest = rest[name_end..].trim_start();
            let value = match rest.strip_prefix('=') {
                Some(after) => {
                    let after = after.trim_start();
                    let (value, remaining) = match after.chars().next() {
                        Some(q @ ('"' | '\'')) => {
                            let inner = &after[1..];
                            let close = inner.find(q).unwrap_or(inner.len());
                            (&inner[..close], inner.get(close + 1..).unwrap_or(""))
                        }
                        _ => {
                            let end = after.find(|c: char| c.is_ascii_whitespace()).unwrap_or(after.len());
                            (&after[..end], &after[end..])
                        }
                    };
                    rest = remaining;
                    value
                }
                None => "",
            };
            if name.eq_ignore_ascii_case(wanted) {
                return Some(decode(value).trim().to_owned());
            }
        }
    }
}

/// Collapsing output: runs of whitespace become one space, block boundaries line breaks.
#[derive(Default)]
struct Writer {
    out: String,
    space: bool,
    breaks: u8,
}

impl Writer {
    fn text(&mut self, text: &str, verbatim: bool) {
        for c in text.chars() {
            if c.is_whitespace() && !verbatim {
                self.space = true;
            } else {
                self.flush();
                self.out.push(c);
            }
        }
    }

    fn breaks(&mut self, count: u8) {
        self.breaks = self.breaks.max(count);
    }

    /// Where the next text will start (spaces and breaks due before it are written first).
    fn mark(&self) -> usize {
        self.out.len()
    }

    /// Writes the pending space or line breaks before a character.
    fn flush(&mut self) {
        if self.out.is_empty() {
            (self.space, self.breaks) = (false, 0);
            return;
        }
        if self.breaks > 0 {
            self.out.truncate(self.out.trim_end_matches([' ', '\t']).len());
            let have = self.out.len() - self.out.trim_end_matches('\n').len();
            for _ in have..usize::from(self.breaks) {
                self.out.push('\n');
            }
        } else if self.space && !self.out.ends_with([' ', '\n']) {
            self.out.push(' ');
        }
        (self.space, self.breaks) = (false, 0);
    }

    /// Turns the text written since `mark` into `[text](href)` when there is a usable target.
    fn link(&mut self, mark: usize, href: Option<&str>, base: Option<&Url>) {
        let Some(segment) = self.out.get(mark..) else { return };
        let start = mark + (segment.len() - segment.trim_start().len());
        let text = self.out[start..].to_owned();
        let Some(target) = href.and_then(|h| link_target(h, base)) else { return };
        if text.is_empty() || text.contains('\n') || text == target {
            return;
        }
        self.out.truncate(start);
        self.out.push_str(&format!("[{text}]({target})"));
    }

    fn finish(mut self) -> String {
        self.out.truncate(self.out.trim_end().len());
        self.out.trim_start().to_owned()
    }
}

/// The absolute target of an href (none for fragments, `javascript:` and `data:`).
fn link_target(href: &str, base: Option<&Url>) -> Option<String> {
    let lower = href.to_ascii_lowercase();
    if href.is_empty() || href.starts_with('#') || lower.starts_with("javascript:") || lower.starts_with("data:") {
        return None;
    }
    match base {
        Some(base) => base.join(href).ok().map(String::from),
        None => Some(href.to_owned()),
    }
}

#[cfg(test)]
#[path = "html_tests.rs"]
mod tests;
