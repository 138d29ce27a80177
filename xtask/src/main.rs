//! Build steps cargo cannot do: the files the .deb packages ship besides the binaries,
//! generated from the programs themselves so that they cannot drift from them — a man
//! page per command (clap_mangen) and bash, zsh and fish completions (clap_complete)
//! from each program's clap definition, and its default configuration from the text its
//! `configfile` command prints.
//!
//! `cargo xtask dist --out DIR` writes, for each program:
//!   DIR/<program>/man/<program>[-<subcommand>…].1.gz
//!   DIR/<program>/completions/{<program>.bash, _<program>, <program>.fish}
//!   DIR/<program>/etc/<file>
//! The packages take them from `target/release/dist/` (see `[package.metadata.deb]` of
//! api/ and broker/; deploy/check.sh runs this before `cargo deb`).

use std::{
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use clap::{CommandFactory, Parser, Subcommand};
use clap_complete::Shell;

/// The build steps.
#[derive(Parser)]
#[command(name = "xtask", about)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Write the man pages, completions and default configuration of every packaged
    /// program.
    Dist {
        /// Where to write them (a directory per program).
        #[arg(long)]
        out: PathBuf,
    },
}

/// A packaged program: its command line and the configuration files it ships.
struct Program {
    command: clap::Command,
    files: Vec<(&'static str, &'static str)>,
}

fn programs() -> Vec<Program> {
    vec![
        Program {
            command: smsgw_api::config::Cli::command(),
            files: vec![("api.env", smsgw_api::config::CONFIGFILE)],
        },
        Program {
            command: smsgw_broker::cli::Cli::command(),
            files: vec![("broker.toml", smsgw_broker::config::CONFIGFILE)],
        },
    ]
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Dist { out } => {
            for program in programs() {
                let written = dist(&program, &out)?;
                println!(
                    "{}: {written} files in {}",
                    program.command.get_name(),
                    out.display()
                );
            }
            Ok(())
        }
    }
}

/// Writes one program's files; returns how many.
fn dist(program: &Program, out: &Path) -> anyhow::Result<usize> {
    let mut command = program.command.clone();
    command.build();
    let name = command.get_name().to_owned();
    let dir = out.join(&name);
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    let mut written = 0;
    for (file, text) in man_pages(&command)? {
        write(&dir.join("man").join(format!("{file}.gz")), &gzip(&text)?)?;
        written += 1;
    }
    for (shell, file) in [
        (Shell::Bash, format!("{name}.bash")),
        (Shell::Zsh, format!("_{name}")),
        (Shell::Fish, format!("{name}.fish")),
    ] {
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut command.clone(), &name, &mut text);
        if text.is_empty() {
            bail!("no {shell} completion for {name}");
        }
        write(&dir.join("completions").join(file), &text)?;
        written += 1;
    }
    for (file, text) in &program.files {
        write(&dir.join("etc").join(file), text.as_bytes())?;
        written += 1;
    }
    Ok(written)
}

/// A page for the command and one for each of its subcommands, at any depth, named
/// `smsgw-api-keys-create.1` and so on (as `man smsgw-api-keys-create` finds them). The
/// `help` subcommand clap adds has none.
fn man_pages(command: &clap::Command) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut pages = Vec::new();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .with_context(|| format!("the man page of {}", command.get_name()))?;
    pages.push((format!("{}.1", command.get_name()), page));
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" || sub.is_hide_set() {
            continue;
        }
        // The page's title (its synopsis keeps the command line, `smsgw-api keys create`)
        // and the program's version in its footer.
        let full = format!("{}-{}", command.get_name(), sub.get_name());
        let sub = sub
            .clone()
            .name(full)
            .version(command.get_version().unwrap_or_default().to_owned());
        pages.extend(man_pages(&sub)?);
    }
    Ok(pages)
}

/// `gzip -9n`: the best compression and no name or time in the header, as Debian wants
/// its man pages (and the same bytes from the same page).
fn gzip(text: &[u8]) -> anyhow::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut out = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    out.write_all(text)?;
    Ok(out.finish()?)
}

fn write(path: &Path, text: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_gets_a_page_and_every_shell_a_completion() {
        let out = std::env::temp_dir().join(format!("smsgw-xtask-{}", std::process::id()));
        for program in programs() {
            dist(&program, &out).expect("dist");
        }
        let listing = |dir: &str| -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(out.join(dir))
                .expect("written")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let api_pages = listing("smsgw-api/man");
        for page in [
            "smsgw-api.1.gz",
            "smsgw-api-serve.1.gz",
            "smsgw-api-migrate.1.gz",
            "smsgw-api-sites-create.1.gz",
        ] {
            assert!(
                api_pages.iter().any(|p| p == page),
                "{page} missing from {api_pages:?}"
            );
        }
        assert!(
            !api_pages.iter().any(|p| p.contains("-help")),
            "{api_pages:?}"
        );
        assert_eq!(
            listing("smsgw-broker/man"),
            [
                "smsgw-broker-configfile.1.gz",
                "smsgw-broker-run.1.gz",
                "smsgw-broker.1.gz"
            ]
        );
        assert_eq!(
            listing("smsgw-broker/completions"),
            ["_smsgw-broker", "smsgw-broker.bash", "smsgw-broker.fish"]
        );
        let page = fs::read(out.join("smsgw-api/man/smsgw-api-serve.1.gz")).expect("page");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&page[..]), &mut text)
            .expect("gzip");
        assert!(text.contains("SMSGW_DATABASE_PASSWORD_FILE"), "{text}");
        assert_eq!(
            fs::read_to_string(out.join("smsgw-broker/etc/broker.toml")).expect("broker.toml"),
            smsgw_broker::config::CONFIGFILE
        );
        let _ = fs::remove_dir_all(&out);
    }
}
