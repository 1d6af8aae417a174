//! Fills an archive's database with published datasets for `scripts/bench search`.
//!
//! Datasets are created through the deposit domain (metadata checked and stored as a
//! depositor's draft would be), then switched to published directly in the database —
//! no files, no OCFL objects, no DOI registrations — and indexed by `search` as
//! publication does. Metadata is random but deterministic (seeded): titles, abstracts,
//! keywords and creators drawn from word lists, publication dates over ten years.
//!
//!     cargo run --release --example seed_search -- --count 10000   (HOLDFAST_* settings)

use chrono::{Duration, NaiveDate};
use clap::Parser;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use holdfast::accounts::{users, Role};
use holdfast::config::{Settings, SettingsArgs};
use holdfast::db::schema::{dataset_versions, datasets};
use holdfast::db::Db;
use holdfast::deposit::metadata::{Creator, Description, Metadata, Rights, Subject, Title, Types};
use holdfast::deposit::service;
use holdfast::error::DomainError;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    settings: SettingsArgs,
    /// How many published datasets to add.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Random seed (the same seed gives the same datasets).
    #[arg(long, default_value_t = 4)]
    seed: u64,
}

const WORDS: &[&str] = &[
    "carbon",
    "flux",
    "fluxes",
    "eddy",
    "covariance",
    "methane",
    "soil",
    "moisture",
    "water",
    "vapour",
    "energy",
    "balance",
    "latent",
    "sensible",
    "heat",
    "radiation",
    "net",
    "ecosystem",
    "exchange",
    "respiration",
    "photosynthesis",
    "forest",
    "grassland",
    "wetland",
    "peatland",
    "tundra",
    "savanna",
    "cropland",
    "boreal",
    "temperate",
    "tropical",
    "arctic",
    "alpine",
    "deciduous",
    "evergreen",
    "conifer",
    "broadleaf",
    "canopy",
    "understory",
    "litter",
    "root",
    "biomass",
    "leaf",
    "area",
    "index",
    "phenology",
    "chamber",
    "tower",
    "half-hourly",
    "daily",
    "annual",
    "seasonal",
    "drought",
    "precipitation",
    "snow",
    "frost",
    "permafrost",
    "thaw",
    "nitrogen",
    "nitrous",
    "oxide",
    "isotope",
    "stable",
    "temperature",
    "air",
    "humidity",
    "pressure",
    "wind",
    "speed",
    "direction",
    "friction",
    "velocity",
    "footprint",
    "gap-filled",
    "quality",
    "control",
    "partitioning",
    "uncertainty",
    "model",
    "remote",
    "sensing",
    "satellite",
    "lidar",
    "hyperspectral",
    "stream",
    "discharge",
    "groundwater",
    "watershed",
    "catchment",
    "sediment",
    "nutrient",
    "phosphorus",
    "chemistry",
    "microbial",
    "community",
    "sequencing",
    "metagenome",
    "vegetation",
    "survey",
    "plot",
    "transect",
    "inventory",
    "disturbance",
    "fire",
    "harvest",
    "restoration",
    "warming",
    "experiment",
    "manipulation",
    "elevated",
    "CO2",
    "ozone",
    "aerosol",
    "albedo",
    "snowpack",
    "evapotranspiration",
    "transpiration",
    "sap",
    "flow",
    "stomatal",
    "conductance",
    "hydraulic",
    "carbonate",
    "weathering",
    "mineral",
    "organic",
    "matter",
    "decomposition",
    "incubation",
    "laboratory",
    "field",
    "site",
    "network",
    "synthesis",
    "long-term",
    "observations",
    "measurements",
    "profiles",
    "time",
    "series",
    "dataset",
    "collection",
];

const KEYWORDS: &[&str] = &[
    "carbon flux",
    "eddy covariance",
    "methane",
    "soil moisture",
    "evapotranspiration",
    "net ecosystem exchange",
    "gross primary production",
    "ecosystem respiration",
    "latent heat",
    "sensible heat",
    "soil temperature",
    "precipitation",
    "snow depth",
    "permafrost",
    "peatland",
    "wetland",
    "boreal forest",
    "temperate forest",
    "grassland",
    "cropland",
    "tundra",
    "savanna",
    "phenology",
    "leaf area index",
    "biomass",
    "nitrous oxide",
    "stable isotopes",
    "sap flow",
    "stream discharge",
    "groundwater",
    "watershed",
    "remote sensing",
    "lidar",
    "hyperspectral imaging",
    "vegetation survey",
    "fire",
    "drought",
    "warming experiment",
    "elevated CO2",
    "microbial community",
    "metagenomics",
    "soil carbon",
    "litter decomposition",
    "nutrient cycling",
    "AmeriFlux",
    "FLUXNET",
    "NEON",
    "LTER",
    "ESS-DIVE",
    "climate change",
    "land surface model",
    "albedo",
    "radiation",
    "air temperature",
    "relative humidity",
    "wind speed",
    "friction velocity",
    "gap filling",
    "flux partitioning",
    "uncertainty",
];

const GIVEN: &[&str] = &[
    "Jane", "John", "Ana", "Wei", "Fatima", "Olga", "Kwame", "Priya", "Lukas", "Sofia", "Hiroshi",
    "Amara", "Mateo", "Ingrid", "Tomasz", "Leila", "Diego", "Mei", "Noah", "Aisha", "Elena",
    "Ravi", "Chloe", "Samuel", "Yuki", "Omar", "Freya", "Pablo", "Nadia", "Erik",
];

const FAMILY: &[&str] = &[
    "Doe",
    "Smith",
    "Munger",
    "Garcia",
    "Chen",
    "Novak",
    "Okafor",
    "Sharma",
    "Müller",
    "Rossi",
    "Tanaka",
    "Mensah",
    "Lopez",
    "Andersen",
    "Kowalski",
    "Haddad",
    "Silva",
    "Wang",
    "Brown",
    "Khan",
    "Petrova",
    "Iyer",
    "Martin",
    "Johnson",
    "Sato",
    "Farouk",
    "Nilsson",
    "Fernandez",
    "Volkova",
    "Larsen",
    "Baldocchi",
    "Richardson",
    "Oishi",
    "Torn",
    "Biraud",
    "Law",
    "Wofsy",
    "Hollinger",
    "Goulden",
    "Kljun",
    "Novick",
    "Bohrer",
    "Desai",
    "Scott",
    "Litvak",
    "Moore",
    "Reichstein",
    "Papale",
    "Verma",
    "Billesbach",
];

const TYPES: &[(&str, u32)] = &[
    ("Dataset", 80),
    ("Collection", 8),
    ("Software", 4),
    ("Text", 3),
    ("Image", 3),
    ("Model", 2),
];

const LICENSES: &[(&str, u32)] = &[
    ("CC-BY-4.0", 70),
    ("CC0-1.0", 20),
    ("CC-BY-SA-4.0", 5),
    ("CC-BY-NC-4.0", 5),
];

const STANDARDS: &[(&str, u32)] = &[
    ("[]", 40),
    ("[\"csv\"]", 30),
    ("[\"csv\", \"ameriflux-base\"]", 20),
    ("[\"essdive-flmd\", \"essdive-dd\", \"csv\"]", 10),
];

fn weighted<'a>(rng: &mut StdRng, list: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = list.iter().map(|(_, w)| w).sum();
    let mut pick = rng.gen_range(0..total);
    for (value, w) in list {
        if pick < *w {
            return value;
        }
        pick -= w;
    }
    list[0].0
}

fn sentence(rng: &mut StdRng, min: usize, max: usize) -> String {
    let n = rng.gen_range(min..=max);
    (0..n)
        .map(|_| *WORDS.choose(rng).unwrap_or(&"data"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn metadata(rng: &mut StdRng, i: usize) -> Metadata {
    let creators = (0..rng.gen_range(1..=4))
        .map(|_| Creator {
            name: format!(
                "{}, {}",
                FAMILY.choose(rng).unwrap_or(&"Doe"),
                GIVEN.choose(rng).unwrap_or(&"Jane")
            ),
            name_type: Some("Personal".into()),
            ..Default::default()
        })
        .collect();
    let abstract_text = (0..rng.gen_range(3..=6))
        .map(|_| capitalised(&sentence(rng, 8, 16)) + ".")
        .collect::<Vec<_>>()
        .join(" ");
    let keyword_count = rng.gen_range(2..=5);
    let subjects = KEYWORDS
        .choose_multiple(rng, keyword_count)
        .map(|k| Subject {
            subject: k.to_string(),
            ..Default::default()
        })
        .collect();
    Metadata {
        titles: vec![Title {
            title: format!("{} ({i})", capitalised(&sentence(rng, 4, 8))),
            ..Default::default()
        }],
        creators,
        descriptions: vec![Description {
            description: abstract_text,
            description_type: "Abstract".into(),
            ..Default::default()
        }],
        subjects,
        types: Some(Types {
            resource_type_general: weighted(rng, TYPES).into(),
            ..Default::default()
        }),
        rights_list: vec![Rights {
            rights_identifier: Some(weighted(rng, LICENSES).into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = Settings::load(&args.settings)?;
    std::fs::create_dir_all(&settings.data_dir)?;
    let db = Db::connect(&settings.database_url, 2)?;
    let mut conn = db.get()?;
    let conn = &mut *conn;
    let email = "bench-seed@example.org";
    let owner = match users::find_by_email(conn, email)? {
        Some(u) => u,
        None => users::create(
            conn,
            email,
            "Bench Seed",
            Role::Depositor,
            "a bench password only",
        )?,
    };
    let mut rng = StdRng::seed_from_u64(args.seed);
    let start = NaiveDate::from_ymd_opt(2016, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or_else(|| anyhow::anyhow!("bad start date"))?;
    let started = std::time::Instant::now();
    let base: i64 = datasets::table.count().get_result(conn)?;
    let mut done = 0;
    while done < args.count {
        let batch = (args.count - done).min(500);
        holdfast::db::transaction(conn, |conn| {
            for _ in 0..batch {
                let n = base as usize + done;
                done += 1;
                let mut m = metadata(&mut rng, n);
                let published = start + Duration::minutes(rng.gen_range(0..10 * 365 * 24 * 60));
                let id = service::create(conn, &owner, m.clone())?;
                m.publication_year = Some(chrono::Datelike::year(&published));
                m.version = Some("1".into());
                let json = serde_json::to_string(&m).map_err(DomainError::internal)?;
                diesel::update(dataset_versions::table.filter(dataset_versions::dataset_id.eq(id)))
                    .set((
                        dataset_versions::published_at.eq(published),
                        dataset_versions::doi.eq(format!("10.5072/bench-{id}")),
                        dataset_versions::ocfl_version.eq(1),
                        dataset_versions::metadata.eq(json),
                        dataset_versions::standards.eq(weighted(&mut rng, STANDARDS)),
                    ))
                    .execute(conn)?;
                diesel::update(datasets::table.find(id))
                    .set((
                        datasets::state.eq("published"),
                        datasets::concept_doi.eq(format!("10.5072/bench-c{id}")),
                    ))
                    .execute(conn)?;
                holdfast::search::index_dataset(conn, id)?;
            }
            Ok::<(), DomainError>(())
        })?;
        eprint!("\rseeded {done}/{}", args.count);
    }
    eprintln!(
        "\rseeded {} published datasets in {:.1} s",
        args.count,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
