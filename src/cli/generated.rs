//! Shell completions and man pages, generated from the clap definitions
//! (the files in `completions/` and `man/` are these, checked by a test).

use clap::CommandFactory;
use clap_complete::Shell;

use super::args::Cli;

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> String {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "bytewax", &mut out);
    String::from_utf8(out).expect("completions are text")
}

/// The file `completions/` holds for each shell.
pub fn completion_files() -> Vec<(String, String)> {
    [
        (Shell::Bash, "bytewax.bash"),
        (Shell::Zsh, "_bytewax"),
        (Shell::Fish, "bytewax.fish"),
        (Shell::PowerShell, "_bytewax.ps1"),
    ]
    .into_iter()
    .map(|(shell, file)| (file.to_string(), completions(shell)))
    .collect()
}

/// Man pages: `bytewax.1` and one per subcommand (`bytewax-run.1`...).
pub fn man_pages() -> Vec<(String, String)> {
    let cmd = Cli::command();
    let mut pages = vec![("bytewax.1".to_string(), render(cmd.clone()))];
    for sub in cmd.get_subcommands() {
        let name = format!("bytewax-{}", sub.get_name());
        let shown = format!("bytewax {}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .display_name(shown.clone())
            .bin_name(shown.clone());
        pages.push((format!("{name}.1"), render(page)));
        for subsub in sub.get_subcommands() {
            let page_name = format!("{name}-{}", subsub.get_name());
            let shown = format!("{shown} {}", subsub.get_name());
            let page = subsub
                .clone()
                .name(page_name.clone())
                .display_name(shown.clone())
                .bin_name(shown);
            pages.push((format!("{page_name}.1"), render(page)));
        }
    }
    pages
}

fn render(cmd: clap::Command) -> String {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .expect("rendering a man page");
    String::from_utf8(out).expect("man pages are text")
}
