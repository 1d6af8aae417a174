//! `holdfast standards ...`: the standards files, offline.

use clap::Subcommand;
use std::process::ExitCode;

use super::EXIT_COULD_NOT_RUN;

#[derive(Subcommand, Debug)]
pub enum StandardsCommand {
    /// Load every standard file of DIR (default ./schemas) and report problems; exit 2 on any.
    Check {
        #[arg(value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// List the standards in effect (built-in, overridden by ./schemas or --schemas).
    List {
        #[arg(long, value_name = "DIR")]
        schemas: Option<std::path::PathBuf>,
    },
}

pub(super) fn run(cmd: &StandardsCommand) -> ExitCode {
    use crate::standards::Registry;
    match cmd {
        StandardsCommand::Check { dir } => {
            let dir = dir
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from("schemas"));
            match Registry::from_dir(&dir) {
                Ok(list) => {
                    for s in &list {
                        println!("ok  {:16} {}", s.name, s.title);
                    }
                    eprintln!(
                        "{} standard(s) in {} are well-formed",
                        list.len(),
                        dir.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("holdfast: {e}");
                    ExitCode::from(EXIT_COULD_NOT_RUN)
                }
            }
        }
        StandardsCommand::List { schemas } => match Registry::load(schemas.as_deref()) {
            Ok(r) => {
                for s in &r.standards {
                    let applies = if s.datacite.is_some() {
                        "the dataset's metadata".to_string()
                    } else if s.applies_when_followed.is_empty() {
                        s.applies_to.join(" ")
                    } else {
                        format!(
                            "{}; in datasets that follow it also {}",
                            s.applies_to.join(" "),
                            s.applies_when_followed.join(" ")
                        )
                    };
                    println!("{:16} {}  (applies to {applies})", s.name, s.title);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("holdfast: {e}");
                ExitCode::from(EXIT_COULD_NOT_RUN)
            }
        },
    }
}
