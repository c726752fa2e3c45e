//! HTML character references: the common named ones (`&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#39;`,
//! `&nbsp;`, typographic quotes and dashes, …) and numeric ones (`&#233;`, `&#xE9;`). Anything
//! else is left as written.

use std::borrow::Cow;

/// The longest reference name looked at (between `&` and `;`).
const MAX_NAME: usize = 32;

/// Decodes the character references in `text`.
pub fn decode(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match reference(after) {
            Some((ch, used)) => {
                out.push(ch);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The character of the reference at the start of `text` (after its `&`) and the bytes it took.
fn reference(text: &str) -> Option<(char, usize)> {
    let semi = text.bytes().take(MAX_NAME + 1).position(|b| b == b';')?;
    let name = &text[..semi];
    let ch = match name.strip_prefix('#') {
        Some(number) => {
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => u32::from_str_radix(hex, 16).ok()?,
                Some(_) => return None,
                None if number.bytes().all(|b| b.is_ascii_digit()) => number.parse().ok()?,
                None => return None,
            };
            char::from_u32(code).filter(|c| *c != '\0').unwrap_or('\u{fffd}')
        }
        None => named(name)?,
    };
    Some((ch, semi + 1))
}

fn named(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "shy" => '\u{ad}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "sbquo" => '‚',
        "ldquo" => '“',
        "rdquo" => '”',
        "bdquo" => '„',
        "laquo" => '«',
        "raquo" => '»',
        "bull" => '•',
        "middot" => '·',
        "deg" => '°',
        "times" => '×',
        "divide" => '÷',
        "plusmn" => '±',
        "para" => '¶',
        "sect" => '§',
        "euro" => '€',
        "pound" => '£',
        "yen" => '¥',
        "cent" => '¢',
        "larr" => '←',
        "rarr" => '→',
        "uarr" => '↑',
        "darr" => '↓',
        "zwj" => '\u{200d}',
        "zwnj" => '\u{200c}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn named_and_numeric_references() {
        assert_eq!(decode("a &amp; b &lt;c&gt; &quot;d&quot; &#39;e&#39; f&nbsp;g"), "a & b <c> \"d\" 'e' f\u{a0}g");
        assert_eq!(decode("caf&#233; caf&#xE9; &#x1F600;"), "café café 😀");
        assert_eq!(decode("&mdash;&hellip;&rsquo;"), "—…’");
    }

    #[test]
    fn anything_else_is_left_alone() {
        assert_eq!(decode("no references"), "no references");
        assert_eq!(decode("AT&T & co; &unknown; &#xZZ; &#; &amp"), "AT&T & co; &unknown; &#xZZ; &#; &amp");
        assert_eq!(decode("&#0; &#1114112;"), "\u{fffd} \u{fffd}");
        assert_eq!(decode("&&amp;"), "&&");
    }
}
