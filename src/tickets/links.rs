//! Comment text split into plain text and links, so templates show links as links while
//! escaping everything else.

use std::sync::LazyLock;

/// A piece of comment text: plain text, or a link holdfast recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Link(String),
}

/// Splits comment text into text and http(s) links. Trailing punctuation stays out of
/// the link.
pub fn linkify(text: &str) -> Vec<Segment> {
    static URL: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"https?://[^\s<>\x22]+").expect("the URL pattern compiles")
    });
    let mut out = Vec::new();
    let mut last = 0;
    for m in URL.find_iter(text) {
        let url = m
            .as_str()
            .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
        if m.start() > last {
            out.push(Segment::Text(text[last..m.start()].to_string()));
        }
        out.push(Segment::Link(url.to_string()));
        last = m.start() + url.len();
    }
    if last < text.len() {
        out.push(Segment::Text(text[last..].to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_and_punctuation_left_out() {
        let s = linkify("See https://example.org/a?b=1. And http://x.y/z), ok");
        assert_eq!(
            s,
            vec![
                Segment::Text("See ".into()),
                Segment::Link("https://example.org/a?b=1".into()),
                Segment::Text(". And ".into()),
                Segment::Link("http://x.y/z".into()),
                Segment::Text("), ok".into()),
            ]
        );
        assert_eq!(linkify("no links"), vec![Segment::Text("no links".into())]);
        // A javascript: URL is never a link.
        assert_eq!(
            linkify("javascript:alert(1)"),
            vec![Segment::Text("javascript:alert(1)".into())]
        );
    }
}
