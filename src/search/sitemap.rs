//! Sitemaps (sitemaps.org 0.9) of the published datasets, for search engines: an index
//! at `/sitemap.xml` and parts at `/sitemap/{part}`, each part the landing pages of one
//! block of [`PART_SIZE`] dataset ids. Read from the search index, which holds exactly
//! the datasets that are published and not withdrawn, with the time their latest
//! version was published (not when it was last indexed: a rebuild of the index changes
//! nothing a crawler should fetch again).
//!
//! Parts are blocks of ids rather than pages of results, so a dataset stays in the
//! same part for good and a part is one indexed range scan, however large the archive.

use chrono::NaiveDateTime;
use diesel::dsl::max;
use diesel::prelude::*;

use crate::db::schema::search_documents;
use crate::db::AnyConnection;
use crate::error::{DomainError, ErrorContext};
use crate::xml::Xml;

/// Dataset ids per part: well under the protocol's 50,000 URLs and 50 MB per file.
pub const PART_SIZE: i64 = 10_000;

const NS: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";

fn w3c_date(at: NaiveDateTime) -> String {
    at.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The id blocks that hold a published dataset, ascending.
fn blocks(conn: &mut AnyConnection) -> Result<Vec<i64>, DomainError> {
    let mut blocks: Vec<i64> = search_documents::table
        .select(search_documents::dataset_id / PART_SIZE)
        .distinct()
        .load(conn)?;
    blocks.sort_unstable();
    Ok(blocks)
}

/// The sitemap index: part 0 (the home page, and the first block's datasets) and every
/// part whose block holds a published dataset. The protocol wants at least one
/// entry in an index and one URL in a part, which part 0 always gives.
pub fn index(conn: &mut AnyConnection, base_url: &str) -> Result<Vec<u8>, DomainError> {
    let mut parts = blocks(conn)?;
    if parts.first() != Some(&0) {
        parts.insert(0, 0);
    }
    let last_change: Option<NaiveDateTime> = search_documents::table
        .select(max(search_documents::published_at))
        .first(conn)?;
    write_index(base_url, &parts, last_change).context("writing the sitemap index")
}

fn write_index(
    base_url: &str,
    parts: &[i64],
    last_change: Option<NaiveDateTime>,
) -> std::io::Result<Vec<u8>> {
    let mut x = Xml::document()?;
    x.open("sitemapindex", &[("xmlns", Some(NS))])?;
    for part in parts {
        x.open("sitemap", &[])?;
        x.leaf("loc", &[], &format!("{base_url}/sitemap/{part}"))?;
        if let Some(at) = last_change {
            x.leaf("lastmod", &[], &w3c_date(at))?;
        }
        x.close("sitemap")?;
    }
    x.close("sitemapindex")?;
    Ok(x.into_bytes())
}

/// Part `part`: the landing page of every published dataset of its id block, with the
/// time its latest version was published (part 0 starts with the home page). NotFound for
/// a part the index does not list.
pub fn part(conn: &mut AnyConnection, base_url: &str, part: i64) -> Result<Vec<u8>, DomainError> {
    if !(0..i64::MAX / PART_SIZE).contains(&part) {
        return Err(DomainError::NotFound);
    }
    let rows: Vec<(i64, NaiveDateTime)> = search_documents::table
        .filter(search_documents::dataset_id.ge(part * PART_SIZE))
        .filter(search_documents::dataset_id.lt((part + 1) * PART_SIZE))
        .order(search_documents::dataset_id.asc())
        .select((search_documents::dataset_id, search_documents::published_at))
        .load(conn)?;
    if rows.is_empty() && part != 0 {
        return Err(DomainError::NotFound);
    }
    write_part(base_url, part == 0, &rows).with_context(|| format!("writing sitemap part {part}"))
}

fn write_part(
    base_url: &str,
    with_home: bool,
    rows: &[(i64, NaiveDateTime)],
) -> std::io::Result<Vec<u8>> {
    let mut x = Xml::document()?;
    x.open("urlset", &[("xmlns", Some(NS))])?;
    if with_home {
        x.open("url", &[])?;
        x.leaf("loc", &[], &format!("{base_url}/"))?;
        x.close("url")?;
    }
    for (id, at) in rows {
        x.open("url", &[])?;
        x.leaf("loc", &[], &format!("{base_url}/datasets/{id}"))?;
        x.leaf("lastmod", &[], &w3c_date(*at))?;
        x.close("url")?;
    }
    x.close("urlset")?;
    Ok(x.into_bytes())
}

/// `/robots.txt`: crawlers are welcome on public pages and told where the sitemap is;
/// what is private or costly to serve again and again (whole-version downloads, the
/// API, forms) is left out.
pub fn robots_txt(base_url: &str) -> String {
    format!(
        "User-agent: *\n\
         Disallow: /api/\n\
         Disallow: /datasets/*/versions/*/download\n\
         Disallow: /datasets/mine\n\
         Disallow: /datasets/new\n\
         Disallow: /curation\n\
         Disallow: /admin/\n\
         Disallow: /profile\n\
         Disallow: /signin\n\
         Disallow: /signup\n\
         Disallow: /tickets\n\
         Disallow: /federation/\n\
         \n\
         Sitemap: {base_url}/sitemap.xml\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document on one line, without the writer's indentation.
    fn flat(xml: std::io::Result<Vec<u8>>) -> String {
        let text = String::from_utf8(xml.unwrap_or_default()).unwrap_or_default();
        text.lines().map(str::trim).collect()
    }

    fn at(day: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, day)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .unwrap_or_default()
    }

    #[test]
    fn the_index_lists_every_part_with_the_last_change() {
        let xml = flat(write_index("https://a.example", &[0, 1, 2], Some(at(7))));
        assert!(
            xml.contains(r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">"#)
        );
        assert_eq!(xml.matches("<sitemap>").count(), 3);
        assert!(xml.contains("<loc>https://a.example/sitemap/2</loc>"));
        assert!(xml.contains("<lastmod>2026-12-07T10:00:00Z</lastmod>"));
        let first =
            String::from_utf8(write_index("https://a.example", &[0], None).unwrap_or_default())
                .unwrap_or_default();
        assert!(!first.contains("<lastmod>"), "nothing published yet");
    }

    #[test]
    fn a_part_lists_landing_pages_with_their_dates() {
        let xml = flat(write_part(
            "https://a.example",
            true,
            &[(1, at(1)), (12, at(2))],
        ));
        assert!(
            xml.contains(
                "<url><loc>https://a.example/datasets/12</loc><lastmod>2026-12-02T10:00:00Z</lastmod></url>"
            ),
            "{xml}"
        );
        assert_eq!(
            xml.matches("<url>").count(),
            3,
            "the home page and two datasets"
        );
        assert!(xml.contains("<url><loc>https://a.example/</loc></url>"));
    }

    #[test]
    fn robots_point_to_the_sitemap_and_keep_crawlers_off_private_pages() {
        let robots = robots_txt("https://a.example");
        assert!(robots.ends_with("Sitemap: https://a.example/sitemap.xml\n"));
        assert!(robots.contains("Disallow: /api/\n"));
        assert!(
            !robots.contains("Disallow: /datasets/\n"),
            "landing pages stay open"
        );
    }
}
