//! A small XML writer over quick-xml, shared by the DataCite, OAI-PMH, ResourceSync and
//! PREMIS documents: quick-xml escapes text and attribute values; this adds removal of
//! the characters XML 1.0 forbids, which quick-xml passes through.

use std::borrow::Cow;
use std::io;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

/// An XML document being written.
pub struct Xml {
    w: Writer<Vec<u8>>,
}

pub type Attrs<'a> = &'a [(&'a str, Option<&'a str>)];

impl Xml {
    /// An indented document with its XML declaration written.
    pub fn document() -> io::Result<Xml> {
        let mut x = Xml {
            w: Writer::new_with_indent(Vec::new(), b' ', 2),
        };
        x.w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        Ok(x)
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_inner()
    }

    fn start(&self, name: &str, attrs: Attrs) -> BytesStart<'static> {
        let mut el = BytesStart::new(name.to_string());
        for (key, value) in attrs {
            if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
                el.push_attribute((*key, xml_chars(v).as_ref()));
            }
        }
        el
    }

    pub fn open(&mut self, name: &str, attrs: Attrs) -> io::Result<()> {
        let el = self.start(name, attrs);
        self.w.write_event(Event::Start(el))
    }

    pub fn close(&mut self, name: &str) -> io::Result<()> {
        self.w.write_event(Event::End(BytesEnd::new(name)))
    }

    pub fn leaf(&mut self, name: &str, attrs: Attrs, text: &str) -> io::Result<()> {
        let el = self.start(name, attrs);
        let text = xml_chars(text.trim());
        if text.is_empty() {
            return self.w.write_event(Event::Empty(el));
        }
        self.w.write_event(Event::Start(el))?;
        self.w.write_event(Event::Text(BytesText::new(&text)))?;
        self.close(name)
    }

    /// Writes an already serialised element as it is (OAI-PMH embeds the DataCite
    /// document this module wrote).
    pub fn raw(&mut self, xml: &str) -> io::Result<()> {
        self.w
            .write_event(Event::Text(BytesText::from_escaped(xml)))
    }

    /// A wrapper element (`<titles>`) around `items`, left out when there are none.
    pub fn list<T>(
        &mut self,
        name: &str,
        items: &[T],
        mut each: impl FnMut(&mut Self, &T) -> io::Result<()>,
    ) -> io::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.open(name, &[])?;
        for item in items {
            each(self, item)?;
        }
        self.close(name)
    }
}

/// Drops characters that XML 1.0 does not allow at all (most C0 controls, U+FFFE/F).
pub fn xml_chars(s: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
    };
    if s.chars().all(allowed) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|&c| allowed(c)).collect())
    }
}
