//! Man pages and shell completions, generated from the same clap definitions that parse the
//! command line, so the documentation cannot drift from the flags. `skiff __generate man DIR`
//! writes `man/`; `skiff __generate completions bash|zsh|fish` prints a script.

use std::io;
use std::path::Path;

use super::common::EXIT_ENGINE;

pub fn main(args: &[String], cli: clap::Command) -> i32 {
    let result = match args {
        [what, dir] if what == "man" => man_pages(Path::new(dir), cli),
        [what, shell] if what == "completions" => completions(shell, cli),
        _ => Err(io::Error::other(
            "usage: skiff __generate man DIR | completions bash|zsh|fish|elvish|powershell",
        )),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e}");
            EXIT_ENGINE
        }
    }
}

fn man_pages(dir: &Path, cmd: clap::Command) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_page(dir, "skiff", cmd.clone())?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("skiff-{}", sub.get_name());
        write_page(dir, &name, sub.clone().name(name.clone()))?;
        for nested in sub.get_subcommands() {
            let nested_name = format!("{name}-{}", nested.get_name());
            write_page(dir, &nested_name, nested.clone().name(nested_name.clone()))?;
        }
    }
    Ok(())
}

fn write_page(dir: &Path, name: &str, cmd: clap::Command) -> io::Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut out)?;
    std::fs::write(dir.join(format!("{name}.1")), out)
}

fn completions(shell: &str, mut cli: clap::Command) -> io::Result<()> {
    let shell: clap_complete::Shell = shell
        .parse()
        .map_err(|_| io::Error::other(format!("unknown shell {shell}")))?;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cli, "skiff", &mut out);
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = io::Write::write_all(&mut io::stdout(), &out);
    Ok(())
}
